package containers

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/pgfleet/pgfleet/dbx/dbxtest/topology"
)

// The backend registers under the name PGFLEET_TEST_BACKEND selects it by;
// it is chosen automatically when no local server binaries exist but Docker
// answers.
func init() { topology.Register("testcontainers", driver{}) }

type driver struct{}

func (driver) Available() bool                 { return dockerAvailable() }
func (driver) Open() (topology.Backend, error) { return findContainers() }

// DefaultImage is the image of the testcontainers backend when
// PGFLEET_TEST_IMAGE is unset.
const DefaultImage = "postgres:15"

// Labels on every container and network of the testcontainers backend. The
// owner label is "<hostname>/<pid>-<process start time>", so that a later
// test process can tell whether the owner still lives (see reapContainers).
const (
	labelOwner   = "org.pgfleet.dbxtest.owner"
	labelCluster = "org.pgfleet.dbxtest.cluster"
	labelNode    = "org.pgfleet.dbxtest.node"
)

// Inside every container: a pg_hba.conf that trusts everyone, replication
// included (the official image's trusts only local replication), and the
// data directory of replicas, outside the image's PGDATA, which holds a
// cluster of its own.
const (
	hbaPath     = "/tmp/dbxtest_hba.conf"
	hbaConf     = "local all all trust\nhost all all all trust\nhost replication all all trust\n"
	replicaData = "/var/lib/postgresql/replica"
)

// replicaScript is the entrypoint of a replica: a base backup of the
// primary the first time (a restarted container keeps its data), then the
// server. It runs as postgres, with the server's arguments in "$@".
const replicaScript = `set -e
if [ ! -s ` + replicaData + `/PG_VERSION ]; then
	pg_basebackup -h primary -p 5432 -U postgres -D ` + replicaData + ` -R -X stream -c fast --no-sync
fi
exec postgres -D ` + replicaData + ` "$@"`

// containers runs every node in a container of one image. The image must
// start a server for `postgres -c key=value ...` as its command, on an
// initialized data directory, with the postgres user trusted: the official
// image does (its entrypoint runs initdb, with POSTGRES_HOST_AUTH_METHOD=trust),
// and so does the image of scripts/docker-postgres-image.sh (no entrypoint, a
// data directory made at build time). Replicas need a shell and
// pg_basebackup in the image; both images have them.
type containers struct {
	image string
	host  string // where mapped ports are reachable, as testcontainers sees it
	bind  netip.Addr
	owner string

	// docker is the process's one Docker client, shared by every cluster
	// and node: a new client would negotiate the API version again (one
	// more round trip per operation). Its Close only closes idle
	// connections and leaves it usable; every use ends with one (see
	// [containers.do]), so that no keep-alive connection, and none of its
	// goroutines, outlives the operation.
	docker client.APIClient
}

// dockerAvailable reports whether a Docker daemon answers. Without
// DOCKER_HOST it asks only when the default socket exists.
func dockerAvailable() bool {
	if os.Getenv("DOCKER_HOST") == "" {
		if _, err := os.Stat("/var/run/docker.sock"); err != nil {
			return false
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	setDockerEnvDefaults()
	cli, err := dockerClient(ctx)
	if err != nil {
		return false
	}
	return cli.Close() == nil
}

var envOnce sync.Once

// setDockerEnvDefaults sets two testcontainers settings when they are unset
// (testcontainers reads them once, at its first use):
//
//   - TESTCONTAINERS_RYUK_DISABLED=true: the Ryuk reaper is an image to pull,
//     which a machine without a registry cannot, and dbxtest removes its
//     containers itself (Close, and reapContainers for dead test processes).
//     Set it to false to have Ryuk as well.
//   - TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 when /.dockerenv exists but the
//     Docker daemon runs beside this process (a dockerd in its PID
//     namespace): testcontainers then takes itself to run inside a container
//     and looks for mapped ports on the bridge gateway, where they are not.
func setDockerEnvDefaults() {
	envOnce.Do(func() {
		if _, ok := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !ok {
			os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
		}
		if _, ok := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); ok {
			return
		}
		if h := os.Getenv("DOCKER_HOST"); h != "" && !strings.HasPrefix(h, "unix://") {
			return
		}
		if fileExists("/.dockerenv") && dockerdIsLocal() {
			os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
		}
	})
}

// dockerdIsLocal reports whether a dockerd process runs in this PID namespace.
func dockerdIsLocal() bool {
	comms, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, c := range comms {
		if b, err := os.ReadFile(c); err == nil && strings.TrimSpace(string(b)) == "dockerd" {
			return true
		}
	}
	return false
}

// dockerClient connects as testcontainers does (DOCKER_HOST, the
// testcontainers properties, the default socket). Callers close it: a client
// kept open holds idle connections, and their goroutines, past the tests.
// Close only closes the idle connections: the client stays usable.
func dockerClient(ctx context.Context) (*testcontainers.DockerClient, error) {
	return testcontainers.NewDockerClientWithOpts(ctx)
}

func findContainers() (*containers, error) {
	setDockerEnvDefaults()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cli, err := dockerClient(ctx)
	if err != nil {
		return nil, &topology.UnavailableError{Reason: fmt.Sprintf("testcontainers backend: Docker does not answer (%v): start Docker, or run scripts/docker-postgres-image.sh as root", err)}
	}
	defer cli.Close()
	b := &containers{image: os.Getenv("PGFLEET_TEST_IMAGE"), docker: cli}
	if b.image == "" {
		b.image = DefaultImage
	}
	provider, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(tclog.NewNoopLogger()))
	if err != nil {
		return nil, fmt.Errorf("containers: testcontainers: %w", err)
	}
	b.host, err = provider.DaemonHost(ctx)
	provider.Close()
	if err != nil {
		return nil, fmt.Errorf("containers: testcontainers: %w", err)
	}
	if b.host == "localhost" {
		b.host = "127.0.0.1" // the ports are bound on IPv4 only
	}
	// A server that trusts everyone listens on loopback only, unless the
	// daemon is elsewhere.
	b.bind = netip.IPv4Unspecified()
	if addr, err := netip.ParseAddr(b.host); err == nil && addr.IsLoopback() {
		b.bind = addr
	}
	if _, err := cli.ImageInspect(ctx, b.image); err != nil {
		if err := pull(ctx, cli, b.image); err != nil {
			return nil, &topology.UnavailableError{Reason: fmt.Sprintf("testcontainers backend: image %s is not here and cannot be pulled (%v): build a local one with scripts/docker-postgres-image.sh and set PGFLEET_TEST_IMAGE=pgfleet/postgres:15-local", b.image, err)}
		}
	}
	hostname, _ := os.Hostname()
	b.owner = hostname + "/" + topology.OwnerID()
	reapContainers(ctx, cli, hostname)
	return b, nil
}

func pull(ctx context.Context, cli client.APIClient, image string) error {
	resp, err := cli.ImagePull(ctx, image, client.ImagePullOptions{})
	if err != nil {
		return err
	}
	defer resp.Close()
	return resp.Wait(ctx)
}

// reapContainers removes the containers and networks whose owning test
// process (on this host) is gone: those of a test binary killed by
// `go test -timeout`, which had no chance to Close.
func reapContainers(ctx context.Context, cli client.APIClient, hostname string) {
	dead := func(labels map[string]string) bool {
		host, owner, ok := strings.Cut(labels[labelOwner], "/")
		return ok && host == hostname && !topology.OwnerAlive(owner)
	}
	filters := make(client.Filters).Add("label", labelOwner)
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filters})
	if err != nil {
		return
	}
	for _, c := range list.Items {
		if dead(c.Labels) {
			_, _ = cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		}
	}
	nets, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: filters})
	if err != nil {
		return
	}
	for _, n := range nets.Items {
		if dead(n.Labels) {
			_, _ = cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
		}
	}
}

func (b *containers) Launch(ctx context.Context, topo topology.Topology) (*topology.Cluster, error) {
	name := fmt.Sprintf("dbxtest-%s-%d", topology.OwnerID(), clusterID.Add(1))
	labels := map[string]string{labelOwner: b.owner, labelCluster: name}
	c := topo.NewCluster("testcontainers")
	// Replicas reach the primary by its alias on a network of their own.
	var netName string
	if topo.Replicas > 0 {
		err := b.do(ctx, func(cli client.APIClient) error {
			_, err := cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "bridge", Labels: labels})
			return err
		})
		if err != nil {
			return c, fmt.Errorf("containers: create network %s: %w", name, err)
		}
		netName = name
		c.OnClose(func() error { return b.removeNetwork(netName) })
	}
	start := func(n *topology.Node) error { return b.startNew(ctx, n, topo.SettingsFor(n.Name), labels, netName) }
	err := topology.Parallel([]*topology.Node{c.Primary, {Name: "shards"}}, func(n *topology.Node) error {
		if n != c.Primary {
			return topology.Parallel(c.Shards, start)
		}
		if err := start(c.Primary); err != nil {
			return err
		}
		return topology.Parallel(c.Replicas, func(r *topology.Node) error {
			if err := start(r); err != nil {
				return err
			}
			return r.WaitStreaming(ctx)
		})
	})
	return c, err
}

// do runs fn with the shared Docker client and then closes the client's
// idle connections (see [containers.docker]).
func (b *containers) do(ctx context.Context, fn func(cli client.APIClient) error) error {
	defer b.docker.Close()
	return fn(b.docker)
}

func (b *containers) removeNetwork(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := b.do(ctx, func(cli client.APIClient) error {
		_, err := cli.NetworkRemove(ctx, name, client.NetworkRemoveOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("containers: remove network %s: %w", name, err)
	}
	return nil
}

// startNew creates and starts a node's container on a reserved host port,
// trying another port when something outside our reservations holds it.
// The port is fixed, not picked by Docker, so that the DSN that clients hold
// stays valid across [Node.Stop] and [Node.Start].
func (b *containers) startNew(ctx context.Context, n *topology.Node, settings map[string]string, labels map[string]string, netName string) error {
	var lastErr error
	for range 5 {
		port, lock, err := topology.ReservePort()
		if err != nil {
			return err
		}
		cn := &containerNode{b: b, name: n.Name, port: port, portLock: lock}
		n.Attach(fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", netJoin(b.host, port)), cn)
		lastErr = b.create(ctx, cn, n.Role, settings, labels, netName)
		if lastErr == nil {
			lastErr = cn.waitReady(ctx)
		}
		if lastErr == nil || !portTaken(lastErr) {
			return lastErr
		}
		_ = cn.Destroy()
	}
	return lastErr
}

func netJoin(host string, port int) string {
	if strings.Contains(host, ":") {
		return fmt.Sprintf("[%s]:%d", host, port)
	}
	return fmt.Sprintf("%s:%d", host, port)
}

func portTaken(err error) bool {
	s := err.Error()
	return strings.Contains(s, "port is already allocated") || strings.Contains(s, "address already in use")
}

// create runs the container through testcontainers. The node's control
// knows the container before any error is checked, so that Close removes
// a container that was created but failed to start.
func (b *containers) create(ctx context.Context, cn *containerNode, role topology.Role, settings map[string]string, labels map[string]string, netName string) error {
	args := []string{"-c", "listen_addresses=*", "-c", "hba_file=" + hbaPath}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-c", k+"="+settings[k])
	}
	nodeLabels := map[string]string{labelNode: cn.name}
	for k, v := range labels {
		nodeLabels[k] = v
	}
	req := testcontainers.ContainerRequest{
		Image:        b.image,
		Env:          map[string]string{"POSTGRES_HOST_AUTH_METHOD": "trust"},
		Cmd:          append([]string{"postgres"}, args...),
		ExposedPorts: []string{"5432/tcp"},
		Labels:       nodeLabels,
		Files:        []testcontainers.ContainerFile{{Reader: strings.NewReader(hbaConf), ContainerFilePath: hbaPath, FileMode: 0o644}},
		HostConfigModifier: func(hc *container.HostConfig) {
			hc.PortBindings = network.PortMap{
				network.MustParsePort("5432/tcp"): {{HostIP: b.bind, HostPort: strconv.Itoa(cn.port)}},
			}
		},
	}
	if role == topology.RoleReplica {
		req.Entrypoint = []string{"sh", "-c", replicaScript, "dbxtest-replica"}
		req.Cmd = append(args, "-c", fmt.Sprintf("primary_conninfo=host=primary port=5432 user=postgres application_name=%s", cn.name))
		req.ConfigModifier = func(cfg *container.Config) { cfg.User = "postgres" }
	}
	if netName != "" {
		req.Networks = []string{netName}
		if role == topology.RolePrimary {
			req.NetworkAliases = map[string][]string{netName: {"primary"}}
		}
	}
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: req,
		Started:          true,
		Logger:           tclog.NewNoopLogger(),
	})
	if ctr != nil {
		cn.setID(ctr.GetContainerID())
	}
	if err != nil {
		return fmt.Errorf("containers: start %s in a container of %s: %w", cn.name, b.image, err)
	}
	return nil
}

// containerNode is a node of the testcontainers backend: one container,
// controlled through the Docker API.
type containerNode struct {
	b        *containers
	name     string
	port     int
	portLock io.Closer

	mu     sync.Mutex
	id     string
	paused bool
	gone   bool
}

func (n *containerNode) setID(id string) {
	n.mu.Lock()
	n.id = id
	n.mu.Unlock()
}

// do runs fn with the backend's Docker client on the node's container.
func (n *containerNode) do(ctx context.Context, what string, fn func(cli client.APIClient, id string) error) error {
	n.mu.Lock()
	id, gone := n.id, n.gone
	n.mu.Unlock()
	if gone {
		return fmt.Errorf("containers: %s was destroyed", n.name)
	}
	if id == "" {
		return fmt.Errorf("containers: %s has no container", n.name)
	}
	err := n.b.do(ctx, func(cli client.APIClient) error { return fn(cli, id) })
	if err != nil {
		return fmt.Errorf("containers: %s %s: %w", what, n.name, err)
	}
	return nil
}

// waitReady polls with real connections through the mapped port: a TCP
// connect alone proves nothing (Docker's proxy accepts for a dead server),
// and the official image's entrypoint runs a first, socket-only server for
// its initialization. It gives up early when the container exits.
func (n *containerNode) waitReady(ctx context.Context) error {
	cfg, err := pgconn.ParseConfig(fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres sslmode=disable connect_timeout=5", n.b.host, n.port))
	if err != nil {
		return err
	}
	lastCheck := time.Now()
	for delay := 5 * time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		conn, err := pgconn.ConnectConfig(ctx, cfg)
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		if time.Since(lastCheck) > 500*time.Millisecond {
			lastCheck = time.Now()
			if !n.running(ctx) {
				return fmt.Errorf("containers: %s exited during startup; its log says:\n%s", n.name, n.logs(ctx))
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("containers: %s not ready on port %d: %w; its log says:\n%s", n.name, n.port, ctx.Err(), n.logs(context.WithoutCancel(ctx)))
		case <-time.After(delay):
		}
	}
}

// running reports whether the container runs; true when Docker cannot tell,
// so that the caller keeps waiting rather than blaming the server.
func (n *containerNode) running(ctx context.Context) bool {
	running := true
	_ = n.do(ctx, "inspect", func(cli client.APIClient, id string) error {
		insp, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err == nil && insp.Container.State != nil {
			running = insp.Container.State.Running
		}
		return err
	})
	return running
}

// logs returns the tail of the container's log, or why it cannot.
func (n *containerNode) logs(ctx context.Context) string {
	var logs string
	if err := n.do(ctx, "read the log of", func(cli client.APIClient, id string) error {
		rc, err := cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "40"})
		if err != nil {
			return err
		}
		defer rc.Close()
		var out strings.Builder
		_, _ = stdcopy.StdCopy(&out, &out, rc)
		logs = strings.TrimSpace(out.String())
		return nil
	}); err != nil {
		return err.Error()
	}
	return logs
}

// stop is a fast shutdown (SIGINT, as the official image's STOPSIGNAL) that
// keeps the container and its data.
func (n *containerNode) Stop(ctx context.Context) error {
	return n.do(ctx, "stop", func(cli client.APIClient, id string) error {
		if err := n.unpause(ctx, cli, id); err != nil {
			return err
		}
		timeout := 60
		_, err := cli.ContainerStop(ctx, id, client.ContainerStopOptions{Signal: "SIGINT", Timeout: &timeout})
		return err
	})
}

func (n *containerNode) Start(ctx context.Context) error {
	err := n.do(ctx, "start", func(cli client.APIClient, id string) error {
		_, err := cli.ContainerStart(ctx, id, client.ContainerStartOptions{})
		return err
	})
	if err != nil {
		return err
	}
	return n.waitReady(ctx)
}

// kill is docker kill (SIGKILL to the postmaster, the container's init, so
// the kernel kills every backend with it); it returns once the container is
// down.
func (n *containerNode) Kill() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return n.do(ctx, "kill", func(cli client.APIClient, id string) error {
		if _, err := cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "SIGKILL"}); err != nil {
			return err
		}
		n.mu.Lock()
		n.paused = false // Docker resumes a paused container it kills
		n.mu.Unlock()
		res := cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
		select {
		case <-res.Result:
			return nil
		case err := <-res.Error:
			return err
		}
	})
}

// pause freezes every process of the container (docker pause, the cgroup
// freezer): the port still accepts connections and nothing answers.
func (n *containerNode) Pause() error { return n.setPaused(true) }

func (n *containerNode) Resume() error { return n.setPaused(false) }

// setPaused pauses or resumes the container and records which, so that stop
// and destroy know to resume it first.
func (n *containerNode) setPaused(paused bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	what := "resume"
	if paused {
		what = "pause"
	}
	return n.do(ctx, what, func(cli client.APIClient, id string) error {
		var err error
		if paused {
			_, err = cli.ContainerPause(ctx, id, client.ContainerPauseOptions{})
		} else {
			_, err = cli.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
		}
		if err != nil {
			return err
		}
		n.mu.Lock()
		n.paused = paused
		n.mu.Unlock()
		return nil
	})
}

// unpause resumes the container if the node paused it: a frozen process
// acts on no signal.
func (n *containerNode) unpause(ctx context.Context, cli client.APIClient, id string) error {
	n.mu.Lock()
	paused := n.paused
	n.paused = false
	n.mu.Unlock()
	if !paused {
		return nil
	}
	_, err := cli.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
	return err
}

// destroy removes the container (forced: running, paused or stopped) with
// its anonymous volumes, and frees the port. It is idempotent.
func (n *containerNode) Destroy() error {
	n.mu.Lock()
	id, gone := n.id, n.gone
	n.mu.Unlock()
	if gone {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var err error
	if id != "" {
		err = n.do(ctx, "remove", func(cli client.APIClient, id string) error {
			_ = n.unpause(ctx, cli, id)
			_, err := cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			if err != nil && strings.Contains(err.Error(), "No such container") {
				return nil
			}
			return err
		})
	}
	n.mu.Lock()
	n.gone = true
	n.mu.Unlock()
	if n.portLock != nil {
		n.portLock.Close()
	}
	return err
}

// clusterID numbers the clusters this process starts.
var clusterID atomic.Int64

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
