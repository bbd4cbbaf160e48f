package budgetcheck

import "time"

// Options are the facts the manifests cannot tell. The zero value is
// usable: it assumes a stock Postgres and no node count. Counts above
// 2147483647 (budget.MaxCount) are not computed with: they make the numbers
// they feed unknown and are reported as PGF007.
type Options struct {
	// Nodes is the number of nodes a DaemonSet runs on. Zero means unknown:
	// a DaemonSet's demand is then reported as unknown.
	Nodes int
	// MaxConnections is assumed for a server whose max_connections the
	// manifests do not set. Zero means 100 (the Postgres default).
	MaxConnections int
	// SuperuserReserved is assumed for a server whose
	// superuser_reserved_connections is not set. Zero means 3 (the Postgres
	// default); a negative value means none.
	SuperuserReserved int
	// Headroom is kept free on every Postgres server (see
	// budget.Server.Headroom). Zero means none.
	Headroom int
	// MaxFileBytes bounds each input (a file, standard input, a pipe): a
	// larger one is an *InputError, so that a link to /dev/zero or a huge
	// file cannot exhaust memory; a kustomize build or a rendered chart
	// larger than it is a PGF011 finding. Zero means DefaultMaxFileBytes
	// (64 MiB).
	MaxFileBytes int64
	// ReadTimeout bounds reading an input that is not a regular file (a
	// FIFO, a device, a process substitution such as <(helm template .)):
	// past it, the read fails with an *InputError instead of hanging. Zero
	// means DefaultReadTimeout (1 minute). Regular files and standard input
	// are not timed.
	ReadTimeout time.Duration

	// Helm: how charts in the input are rendered (see renderChart).

	// HelmValues are values files merged over every chart's defaults, in
	// order (helm --values). None by default.
	HelmValues []string
	// HelmSet are key=value overrides applied after HelmValues (helm
	// --set). None by default.
	HelmSet []string
	// HelmRelease is the release name charts are rendered with. Empty means
	// DefaultHelmRelease ("release-name", as helm template).
	HelmRelease string
	// HelmNamespace is the namespace charts are rendered into. Empty means
	// DefaultHelmNamespace ("default").
	HelmNamespace string
}

// Defaults of [Options.MaxFileBytes] and [Options.ReadTimeout].
const (
	DefaultMaxFileBytes = 64 << 20
	DefaultReadTimeout  = time.Minute
)

func (o Options) maxFileBytes() int64 {
	if o.MaxFileBytes <= 0 {
		return DefaultMaxFileBytes
	}
	return o.MaxFileBytes
}

func (o Options) readTimeout() time.Duration {
	if o.ReadTimeout <= 0 {
		return DefaultReadTimeout
	}
	return o.ReadTimeout
}

func (o Options) maxConnections() int {
	if o.MaxConnections <= 0 {
		return 100
	}
	return o.MaxConnections
}

func (o Options) superuserReserved() int {
	switch {
	case o.SuperuserReserved < 0:
		return 0
	case o.SuperuserReserved == 0:
		return 3
	}
	return o.SuperuserReserved
}

func (o Options) helmRelease() string {
	if o.HelmRelease == "" {
		return DefaultHelmRelease
	}
	return o.HelmRelease
}

func (o Options) helmNamespace() string {
	if o.HelmNamespace == "" {
		return DefaultHelmNamespace
	}
	return o.HelmNamespace
}
