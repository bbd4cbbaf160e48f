# pgfleet: run `make` or `make help` for the targets.
GO       ?= go
PKGS     ?= ./...
TIMEOUT  ?= 20m
FUZZTIME ?= 1m
STATICCHECK_VERSION ?= v0.8.2

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_\/-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## compile every package; the product commands (cmd/...) into bin/
	$(GO) build $(PKGS)
	$(GO) build -o bin/ ./cmd/...

.PHONY: test
test: ## every test, integration included (starts real Postgres servers)
	$(GO) test -count=1 -timeout $(TIMEOUT) $(PKGS)

.PHONY: test-short
test-short: ## unit tests only: no database
	$(GO) test -count=1 -short $(PKGS)

.PHONY: race
race: ## every test under the race detector
	$(GO) test -count=1 -race -timeout $(TIMEOUT) $(PKGS)

.PHONY: bench
bench: ## Go benchmarks of every package (see BENCHMARKS.md for the side-by-side commands)
	$(GO) test -run='^$$' -bench=. -benchmem -count=1 $(PKGS)

.PHONY: bench/dbx
bench/dbx: ## point selects: dbx Cluster vs raw pgxpool vs pgbench, one server, one run
	$(GO) run ./internal/cmd/dbxbench

.PHONY: bench/replica
bench/replica: ## read replicas: routing overhead, hedged vs plain reads, causal-token cost, one run
	$(GO) run ./internal/cmd/replicabench

.PHONY: bench/classes
bench/classes: ## latency classes: cost per query vs plain and vs a caller deadline; statement_timeout vs cancel; cancel timing
	$(GO) run ./internal/cmd/classbench

.PHONY: bench/shard
bench/shard: ## Router.For with hot-key detection vs BoomFilters TopK: recall and memory, then speed, one run
	$(GO) test ./shard/ -run 'TestRecallAgainstBoomTopK|TestHotKeysZipfAccuracy' -v -count=1
	$(GO) test ./shard/ -run XXX -bench 'BenchmarkFor|BenchmarkBoomTopK' -benchmem -count 5

.PHONY: bench/shard-write
bench/shard-write: ## declared writes (Router.Exec, Router.Tx) vs plain ones, same servers, contenders interleaved
	PGFLEET_REQUIRE_DB=1 $(GO) test ./shard/ -run XXX -bench BenchmarkShardWrite -benchtime 2000x -count 6

.PHONY: bench/loader
bench/loader: ## N+1 vs loaders vs JOIN vs dataloadgen, one server, one run
	$(GO) run ./internal/cmd/loaderbench

.PHONY: fuzz
fuzz: ## fuzz budgetcheck's input path and DSN redaction (FUZZTIME each, default 1m)
	$(GO) test -run='^$$' -fuzz=FuzzAnalyze -fuzztime=$(FUZZTIME) -fuzzminimizetime=3s ./budgetcheck/
	$(GO) test -run='^$$' -fuzz=FuzzRedact -fuzztime=$(FUZZTIME) ./internal/dsn/

.PHONY: lint
lint: lint-fast ## gofmt check, go vet, staticcheck
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

.PHONY: demo
demo: ## the orders example on a throwaway topology under open-model load for 30 s: report + HTML report
	$(GO) run ./internal/cmd/demo

.PHONY: demo/budgetcheck
demo/budgetcheck: ## budgetcheck on the demo's fleet as Kubernetes manifests (it is over budget on purpose: exit 1)
	-$(GO) run ./cmd/budgetcheck internal/cmd/demo/demo_fleet.yaml

SLACK ?= 1
.PHONY: loadtest
loadtest: ## the demo's load with SLO thresholds (SLACK=F loosens latencies), then the overload ramp; fails when crossed
	$(GO) run ./internal/cmd/demo --loadtest --duration 20s --slack $(SLACK)

.PHONY: demo/fleetsim
demo/fleetsim: ## autoscaling simulation, naive pools vs fleet quotas (~2 min); writes docs/fleetsim/
	$(GO) run ./cmd/fleetsim -out docs/fleetsim

.PHONY: docker/image
docker/image: ## install Docker if missing, start dockerd, build a local Postgres image (no pull)
	bash scripts/docker-postgres-image.sh

.PHONY: test/containers
test/containers: docker/image ## the dbxtest smoke suite through testcontainers
	PGFLEET_TEST_BACKEND=testcontainers PGFLEET_TEST_IMAGE=pgfleet/postgres:15-local \
	TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 \
	$(GO) test -count=1 -run Containers ./dbx/dbxtest/containers/

.PHONY: cross
cross: ## build and vet every package for darwin/amd64, darwin/arm64 and windows/amd64
	@set -e; for p in darwin/amd64 darwin/arm64 windows/amd64; do \
		echo "cross: $$p"; \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build $(PKGS); \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet $(PKGS); \
	done

.PHONY: clean
clean: ## remove build output, test caches and dbxtest's shared initdb templates (rebuilt on demand)
	rm -rf bin
	$(GO) clean -testcache
	rm -rf /dev/shm/pgfleet-dbxtest/template-* $${TMPDIR:-/tmp}/pgfleet-dbxtest/template-*

.PHONY: lint-fast
lint-fast: ## gofmt check and go vet (what CI runs)
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
