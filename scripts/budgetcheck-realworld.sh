#!/usr/bin/env bash
# Runs budgetcheck on public repositories checked out outside this one (the
# evaluation repositories stay out of pgfleet, so the checker is measured on
# what nobody tuned it to). Usage:
#   scripts/budgetcheck-realworld.sh DIR...    # each DIR: a checkout (chart, kustomize tree, manifests)
# Prints, per repository, the one-line summary and each database's verdict
# line; the full reports go to $OUT (default /tmp/budgetcheck-realworld).
set -euo pipefail
out=${OUT:-/tmp/budgetcheck-realworld}
mkdir -p "$out"
bin="$out/budgetcheck"
go build -o "$bin" ./cmd/budgetcheck
for dir in "$@"; do
	name=$(basename "$dir")
	code=0
	"$bin" "$dir" >"$out/$name.txt" 2>"$out/$name.err" || code=$?
	echo "== $name (exit $code)"
	grep -E '^(\[[^]]*\] )?[^ ].*\((postgres|pooler|external|unresolved)\): ' "$out/$name.txt" || true
	tail -n 1 "$out/$name.txt"
	[ -s "$out/$name.err" ] && sed 's/^/   stderr: /' "$out/$name.err" | head -n 3
done
