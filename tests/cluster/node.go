package main

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A real node, run by `kcp node` inside the node's network namespace: containerd (built from
// its own Go module, see xtask/src/cluster/runtime.rs), this binary's kubelet and kube-proxy.
//
// Several nodes share one host, so everything a node writes is its own: state under --dir, a
// cgroup subtree --cgroup-root (the node's processes in <root>/system, the pods in
// <root>/kubepods), and a private mount namespace in which /run/containerd (shim sockets, a
// path containerd hard-codes) is a fresh tmpfs and /var/lib/kubelet (kubelet's root, and the
// device-plugin socket path it hard-codes) is the node's own directory. Host-wide kernel settings
// are never written: kubelet runs with protectKernelDefaults, and sees the values it insists on
// through files mounted over /proc/sys in that private namespace only.

// nodeEnvInner marks the re-executed `kcp node` that runs in its private mount namespace.
const nodeEnvInner = "KCP_NODE_PRIVATE_MOUNTS"

// nodeOptions are the flags of `kcp node`.
type nodeOptions struct {
	dir, clusterDir, server, name, runtimeBin, runc, cniBin string
	podSubnet, clusterCIDR, cgroupRoot, sandboxImage        string
	address                                                 net.IP
	images                                                  []string
	parentPID                                               int
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func parseNodeFlags(args []string) (nodeOptions, error) {
	var o nodeOptions
	var address string
	var images stringList
	fs := flag.NewFlagSet("kcp node", flag.ContinueOnError)
	fs.StringVar(&o.dir, "dir", "", "the node's state directory (required; removed when the node stops)")
	fs.StringVar(&o.clusterDir, "cluster-dir", "", "state directory of `kcp up` (its CA signs the node's certificates) (required)")
	fs.StringVar(&o.server, "server", "", "API server URL as reachable from the node (required)")
	fs.StringVar(&o.name, "name", "", "node name (required)")
	fs.StringVar(&address, "address", "", "the node's IP address (kubelet --node-ip) (required)")
	fs.StringVar(&o.runtimeBin, "runtime-bin", "", "directory with containerd, ctr and containerd-shim-runc-v2 (required)")
	fs.StringVar(&o.runc, "runc", "/usr/sbin/runc", "the runc binary")
	fs.StringVar(&o.cniBin, "cni-bin", "/usr/lib/cni", "directory of the CNI plugins (bridge, host-local, loopback)")
	fs.StringVar(&o.podSubnet, "pod-subnet", "", "this node's pod addresses (CIDR) (required)")
	fs.StringVar(&o.clusterCIDR, "cluster-cidr", "198.19.192.0/18", "every node's pod addresses (kube-proxy)")
	fs.StringVar(&o.cgroupRoot, "cgroup-root", "", "the node's cgroup subtree, e.g. /metallb-rs/node-1 (required)")
	fs.StringVar(&o.sandboxImage, "sandbox-image", "", "the pause image (imported with --image) (required)")
	fs.Var(&images, "image", "ARCHIVE=REPOSITORY: import an OCI archive as REPOSITORY:<its tag> before kubelet starts (repeatable)")
	fs.IntVar(&o.parentPID, "parent-pid", 0, "stop when this process exits")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	for _, required := range []struct{ name, value string }{
		{"dir", o.dir}, {"cluster-dir", o.clusterDir}, {"server", o.server}, {"name", o.name},
		{"address", address}, {"runtime-bin", o.runtimeBin}, {"pod-subnet", o.podSubnet},
		{"cgroup-root", o.cgroupRoot}, {"sandbox-image", o.sandboxImage},
	} {
		if required.value == "" {
			return o, fmt.Errorf("--%s is required", required.name)
		}
	}
	if o.address = net.ParseIP(address); o.address == nil {
		return o, fmt.Errorf("--address %q is not an IP address", address)
	}
	if !strings.HasPrefix(o.cgroupRoot, "/") || strings.Contains(o.cgroupRoot, "..") || o.cgroupRoot == "/" {
		return o, fmt.Errorf("--cgroup-root %q must be an absolute path below /", o.cgroupRoot)
	}
	o.images = images
	return o, nil
}

// runNode is `kcp node`: it re-executes itself in a private mount namespace, where the node runs
// until a signal or the parent's exit; then it stops the node and removes its state.
func runNode(args []string) int {
	opts, err := parseNodeFlags(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kcp node: %v\n", err)
		return 2
	}
	signal.Ignore(syscall.SIGPIPE)
	if os.Getenv(nodeEnvInner) == "" {
		return reexecPrivate(args)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		sig := <-signals
		cancel(fmt.Errorf("%w on %s", errStopped, sig))
	}()
	if opts.parentPID > 0 {
		if err := watchParent(opts.parentPID, cancel); err != nil {
			fmt.Fprintf(os.Stderr, "kcp node: %v\n", err)
			return 1
		}
	}
	err = node(ctx, opts)
	code := 0
	switch {
	case errors.Is(err, errStopped):
		fmt.Printf("%v\n", err)
	case err != nil:
		fmt.Fprintf(os.Stderr, "kcp node %s: %v\n", opts.name, err)
		code = 1
	}
	if err := cleanNode(opts.dir, opts.cgroupRoot); err != nil {
		fmt.Fprintf(os.Stderr, "kcp node %s: cleaning up: %v\n", opts.name, err)
		code = 1
	}
	return code
}

// reexecPrivate runs this command again in a new mount namespace (Go makes its mounts private)
// and passes signals on; the child dies with this process.
func reexecPrivate(args []string) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "kcp node: %v\n", err)
		return 1
	}
	cmd := exec.Command(self, append([]string{"node"}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), nodeEnvInner+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "kcp node: cannot enter a private mount namespace: %v\n", err)
		return 1
	}
	go func() {
		for sig := range signals {
			_ = cmd.Process.Signal(sig)
		}
	}()
	if err := cmd.Wait(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		return 1
	}
	return 0
}

// nodePaths are the files and directories of one node.
type nodePaths struct{ dir string }

func (p nodePaths) at(parts ...string) string {
	return filepath.Join(append([]string{p.dir}, parts...)...)
}
func (p nodePaths) socket() string { return p.at("containerd.sock") }
func (p nodePaths) log(component string) string {
	return p.at("logs", component+".log")
}

func node(ctx context.Context, o nodeOptions) error {
	p := nodePaths{dir: o.dir}
	for _, d := range []string{p.at("logs"), p.at("pki"), p.at("kubelet"), p.at("pod-logs"), p.at("cni", "net.d"), p.at("containerd")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	// node-clean needs these after a crash.
	if err := os.WriteFile(p.at("cgroup-root"), []byte(o.cgroupRoot), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(p.at("node.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	if err := enterCgroup(o.cgroupRoot); err != nil {
		return fmt.Errorf("cgroups: %w", err)
	}
	if err := privateMounts(p); err != nil {
		return fmt.Errorf("mounts: %w", err)
	}
	if err := nodeCredentials(o, p); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	if err := writeNodeConfigs(o, p); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	s := &supervisor{self: self, dir: o.dir, logs: p.at("logs"), children: map[string]*exec.Cmd{}, exited: make(chan string, 8)}
	defer s.stopAll()
	env := []string{"PATH=" + o.runtimeBin + ":" + filepath.Dir(o.runc) + ":/usr/sbin:/usr/bin:/sbin:/bin"}
	if err := s.startProgram("containerd", filepath.Join(o.runtimeBin, "containerd"), env, "--config", p.at("containerd.toml")); err != nil {
		return err
	}
	if err := waitSocket(ctx, s, "containerd", p.socket(), 30*time.Second); err != nil {
		return err
	}
	for _, image := range o.images {
		archive, repository, ok := strings.Cut(image, "=")
		if !ok {
			return fmt.Errorf("--image %q is not ARCHIVE=REPOSITORY", image)
		}
		out, err := exec.CommandContext(ctx, filepath.Join(o.runtimeBin, "ctr"), "--address", p.socket(), "--namespace", "k8s.io",
			"images", "import", "--base-name", repository, archive).CombinedOutput()
		if err != nil {
			return fmt.Errorf("importing %s as %s: %w\n%s", archive, repository, err, out)
		}
	}
	if err := s.start("kubelet",
		"--config="+p.at("kubelet.yaml"),
		"--kubeconfig="+p.at("kubelet.kubeconfig"),
		"--hostname-override="+o.name,
		"--node-ip="+o.address.String(),
	); err != nil {
		return err
	}
	if err := s.start("kube-proxy", "--config="+p.at("kube-proxy.yaml")); err != nil {
		return err
	}
	if err := os.WriteFile(p.at("started"), nil, 0o644); err != nil {
		return err
	}
	fmt.Printf("node %s: containerd, kubelet and kube-proxy started (logs in %s)\n", o.name, p.at("logs"))
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case name := <-s.exited:
		delete(s.children, name)
		return componentError(s, name, errors.New("exited"))
	}
}

// startProgram runs an external program (not a kcp component) as a supervised child.
func (s *supervisor) startProgram(name, program string, env []string, args ...string) error {
	logFile, err := os.OpenFile(s.logPath(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(program, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	s.children[name] = cmd
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		s.exited <- name
	}()
	return nil
}

// waitSocket waits until a unix socket accepts connections.
func waitSocket(ctx context.Context, s *supervisor, component, path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if conn, err := net.Dial("unix", path); err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case name := <-s.exited:
			delete(s.children, name)
			return componentError(s, name, errors.New("exited during startup"))
		case <-time.After(20 * time.Millisecond):
		}
	}
	return componentError(s, component, fmt.Errorf("no socket %s after %s", path, timeout))
}

// kubeletSysctls are the host-wide kernel settings kubelet insists on (it would write them
// without protectKernelDefaults, and refuses to start with it when they differ).
var kubeletSysctls = map[string]string{
	"vm/overcommit_memory":      "1",
	"vm/panic_on_oom":           "0",
	"kernel/panic":              "10",
	"kernel/panic_on_oops":      "1",
	"kernel/keys/root_maxkeys":  "1000000",
	"kernel/keys/root_maxbytes": "25000000",
}

// privateMounts prepares this (private) mount namespace: a tmpfs on /run/containerd, the node's
// kubelet directory on /var/lib/kubelet, and kubelet's kernel settings shown as files over
// /proc/sys (the host's values stay as they are).
func privateMounts(p nodePaths) error {
	same, err := sameMountNamespaceAsParent()
	if err != nil {
		return err
	}
	if same {
		return errors.New("refusing to mount in the host's mount namespace")
	}
	for _, dir := range []string{"/run/containerd", "/var/lib/kubelet"} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if err := unix.Mount("tmpfs", "/run/containerd", "tmpfs", 0, "mode=0711"); err != nil {
		return fmt.Errorf("tmpfs on /run/containerd: %w", err)
	}
	if err := unix.Mount(p.at("kubelet"), "/var/lib/kubelet", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("binding %s on /var/lib/kubelet: %w", p.at("kubelet"), err)
	}
	if err := os.MkdirAll(p.at("sysctl"), 0o755); err != nil {
		return err
	}
	for key, want := range kubeletSysctls {
		target := filepath.Join("/proc/sys", key)
		current, err := os.ReadFile(target)
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(current)) == want {
			continue
		}
		file := p.at("sysctl", strings.ReplaceAll(key, "/", "."))
		if err := os.WriteFile(file, []byte(want+"\n"), 0o444); err != nil {
			return err
		}
		if err := unix.Mount(file, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("showing %s as %s: %w", target, want, err)
		}
		if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("making %s read-only: %w", target, err)
		}
	}
	return nil
}

// sameMountNamespaceAsParent says whether this process shares its parent's mount namespace
// (the inner `kcp node` does not: its parent made it a private one).
func sameMountNamespaceAsParent() (bool, error) {
	self, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return false, err
	}
	parent, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", os.Getppid()))
	if err != nil {
		return false, err
	}
	return self == parent, nil
}

// nodeCredentials issues the node's certificates with the control plane's CA: kubelet's client
// certificate (system:node:<name> in system:nodes, as the Node authorizer wants), its serving
// certificate for the node's address, and kube-proxy's client certificate (system:kube-proxy,
// bound to system:node-proxier by default); and writes their kubeconfigs.
func nodeCredentials(o nodeOptions, p nodePaths) error {
	cluster := pki{dir: filepath.Join(o.clusterDir, "pki")}
	authority, err := cluster.loadCA()
	if err != nil {
		return fmt.Errorf("the control plane's CA in %s: %w", cluster.dir, err)
	}
	own := pki{dir: p.at("pki")}
	if err := own.issue(authority, "kubelet-client", &x509.Certificate{
		Subject:     pkix.Name{CommonName: "system:node:" + o.name, Organization: []string{"system:nodes"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return err
	}
	if err := own.issue(authority, "kubelet-serving", &x509.Certificate{
		Subject:     pkix.Name{CommonName: "system:node:" + o.name, Organization: []string{"system:nodes"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{o.name},
		IPAddresses: []net.IP{o.address},
	}); err != nil {
		return err
	}
	if err := own.issue(authority, "kube-proxy", &x509.Certificate{
		Subject:     pkix.Name{CommonName: "system:kube-proxy"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return err
	}
	ca := cluster.path("ca.crt")
	if err := writeKubeconfig(p.at("kubelet.kubeconfig"), o.server, ca, "system:node:"+o.name,
		own.path("kubelet-client.crt"), own.path("kubelet-client.key"), "", ""); err != nil {
		return err
	}
	return writeKubeconfig(p.at("kube-proxy.kubeconfig"), o.server, ca, "system:kube-proxy",
		own.path("kube-proxy.crt"), own.path("kube-proxy.key"), "", "")
}

// writeNodeConfigs writes containerd's, the CNI network's, kubelet's and kube-proxy's
// configuration files.
func writeNodeConfigs(o nodeOptions, p nodePaths) error {
	files := map[string]string{
		p.at("containerd.toml"):                  containerdConfig(o, p),
		p.at("cni", "net.d", "10-pods.conflist"): cniConfig(o, p),
		p.at("kubelet.yaml"):                     kubeletConfig(o, p),
		p.at("kube-proxy.yaml"):                  kubeProxyConfig(o, p),
	}
	for path, text := range files {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func containerdConfig(o nodeOptions, p nodePaths) string {
	return fmt.Sprintf(`version = 3
root = %q
state = %q
# Only what a CRI node needs; no snapshotter that wants a special filesystem, no tracing.
disabled_plugins = [
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.blockfile",
  "io.containerd.snapshotter.v1.erofs", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing", "io.containerd.nri.v1.nri",
]

[grpc]
  address = %q
[ttrpc]
  address = %q

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = %q
  [plugins.'io.containerd.cri.v1.images'.registry]
    # No registry configuration: images come from ctr imports only.
    config_path = %q

[plugins.'io.containerd.cri.v1.runtime']
  netns_mounts_under_state_dir = true
  # Test processes may lack CAP_SYS_RESOURCE (this machine's do): a pod's oom_score_adj may then
  # not go below containerd's own, so clamp it (kubelet asks -998 for sandboxes).
  restrict_oom_score_adj = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = %q
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = [%q]
    conf_dir = %q

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`, p.at("containerd", "root"), p.at("containerd", "state"), p.socket(), p.socket()+".ttrpc",
		o.sandboxImage, p.at("containerd", "certs.d"), o.runc, o.cniBin, p.at("cni", "net.d"))
}

// cniConfig: a bridge per node with the node's pod subnet, the node as the pods' gateway, and
// masquerading of pod traffic leaving the subnet (so the rest of the test network needs no
// routes to the pods).
func cniConfig(o nodeOptions, p nodePaths) string {
	return fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "pods",
  "plugins": [{
    "type": "bridge",
    "bridge": "cni0",
    "isGateway": true,
    "ipMasq": true,
    "hairpinMode": true,
    "ipam": {
      "type": "host-local",
      "ranges": [[{"subnet": %q}]],
      "routes": [{"dst": "0.0.0.0/0"}],
      "dataDir": %q
    }
  }]
}
`, o.podSubnet, p.at("cni", "ipam"))
}

func kubeletConfig(o nodeOptions, p nodePaths) string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine runs cgroup v1 (hybrid); several kubelets share it, each with its own subtree.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: %q
cgroupsPerQOS: true
enforceNodeAllocatable: ["pods"]
containerRuntimeEndpoint: %q
podLogsDir: %q
volumePluginDir: %q
address: %q
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: %q
tlsPrivateKeyFile: %q
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %q}
authorization:
  mode: Webhook
registerNode: true
protectKernelDefaults: true
failSwapOn: false
shutdownGracePeriod: 0s
maxPods: 30
serializeImagePulls: false
# The images are imported, never pulled: nothing may garbage-collect them, and a test host's
# disk or memory must not evict the pods.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
# "0%%" turns a signal off (CI machines run with little free disk: at 1%% of a 252 GB disk the
# kubelet evicted every speaker).
evictionHard:
  memory.available: 10Mi
  nodefs.available: "0%%"
  nodefs.inodesFree: "0%%"
  imagefs.available: "0%%"
  imagefs.inodesFree: "0%%"
`, o.cgroupRoot, "unix://"+p.socket(), p.at("pod-logs"), p.at("volume-plugins"), o.address.String(),
		p.at("pki", "kubelet-serving.crt"), p.at("pki", "kubelet-serving.key"),
		filepath.Join(o.clusterDir, "pki", "ca.crt"))
}

func kubeProxyConfig(o nodeOptions, p nodePaths) string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection:
  kubeconfig: %q
hostnameOverride: %q
clusterCIDR: %q
bindAddress: %q
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Leave the host-wide conntrack table alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`, p.at("kube-proxy.kubeconfig"), o.name, o.clusterCIDR, o.address.String())
}

// cgroupMounts returns the mount points of the cgroup v1 hierarchies, by their options (for
// example "memory", "cpu", "name=systemd").
func cgroupMounts() (map[string]string, error) {
	return cgroupMountsOf("cgroup")
}

// cgroupMountsOf returns the mount points of the file systems of type fstype ("cgroup" for the
// v1 hierarchies, "cgroup2" for the unified one), by their options.
func cgroupMountsOf(fstype string) (map[string]string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	mounts := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+3 >= len(fields) || fields[sep+1] != fstype {
			continue
		}
		mounts[fields[sep+3]] = fields[4]
	}
	if len(mounts) == 0 && fstype == "cgroup" {
		return nil, errors.New("no cgroup v1 hierarchy is mounted")
	}
	return mounts, nil
}

// enterCgroup creates <root>/system in every cgroup v1 hierarchy and moves this process there:
// containerd, its shims, kubelet and kube-proxy then live under the node's root with its pods.
func enterCgroup(root string) error {
	mounts, err := cgroupMounts()
	if err != nil {
		return err
	}
	for options, mount := range mounts {
		dir := mount
		for _, part := range strings.Split(strings.Trim(root+"/system", "/"), "/") {
			parent := dir
			dir = filepath.Join(dir, part)
			if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return err
			}
			if strings.Contains(options, "cpuset") {
				// A new cpuset has no CPUs or memory nodes: inherit the parent's.
				for _, file := range []string{"cpuset.cpus", "cpuset.mems"} {
					if value, err := os.ReadFile(filepath.Join(parent, file)); err == nil {
						_ = os.WriteFile(filepath.Join(dir, file), value, 0o644)
					}
				}
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			return fmt.Errorf("joining %s: %w", dir, err)
		}
	}
	return nil
}

// runNodeClean is `kcp node-clean --dir DIR`: what a killed node left (processes in its cgroup
// subtree, the cgroups, the state directory).
func runNodeClean(args []string) int {
	fs := flag.NewFlagSet("kcp node-clean", flag.ContinueOnError)
	dir := fs.String("dir", "", "the node's state directory (required)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "kcp node-clean: --dir is required")
		return 2
	}
	root, err := os.ReadFile(filepath.Join(*dir, "cgroup-root"))
	if errors.Is(err, os.ErrNotExist) {
		_ = os.RemoveAll(*dir)
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "kcp node-clean: %v\n", err)
		return 1
	}
	if err := cleanNode(*dir, strings.TrimSpace(string(root))); err != nil {
		fmt.Fprintf(os.Stderr, "kcp node-clean: %v\n", err)
		return 1
	}
	return 0
}

// cleanNode kills every process in the node's cgroup subtree (but the caller), removes the
// cgroups, unmounts what this mount namespace has under the node's directory, and removes it.
func cleanNode(dir, root string) error {
	mounts, err := cgroupMounts()
	if err != nil {
		return err
	}
	// On a hybrid host runc and kubelet also create the pods' cgroups in the unified hierarchy.
	if unified, err := cgroupMountsOf("cgroup2"); err == nil {
		for options, mount := range unified {
			mounts["cgroup2:"+options] = mount
		}
	}
	if root == "" || root == "/" || !strings.HasPrefix(root, "/") {
		return fmt.Errorf("refusing to clean cgroup root %q", root)
	}
	self := os.Getpid()
	// Leave the subtree first (to each hierarchy's root).
	for _, mount := range mounts {
		_ = os.WriteFile(filepath.Join(mount, "cgroup.procs"), []byte(strconv.Itoa(self)), 0o644)
	}
	var lastErr error
	for attempt := 0; attempt < 100; attempt++ {
		lastErr = nil
		for _, mount := range mounts {
			top := filepath.Join(mount, root)
			var dirs []string
			_ = filepath.WalkDir(top, func(path string, d os.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					dirs = append(dirs, path)
				}
				return nil
			})
			for i := len(dirs) - 1; i >= 0; i-- {
				if procs, err := os.ReadFile(filepath.Join(dirs[i], "cgroup.procs")); err == nil {
					for _, field := range strings.Fields(string(procs)) {
						if pid, err := strconv.Atoi(field); err == nil && pid != self {
							_ = syscall.Kill(pid, syscall.SIGKILL)
						}
					}
				}
				if err := os.Remove(dirs[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
					lastErr = err
				}
			}
		}
		if lastErr == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The parents of the root (e.g. /metallb-rs) go when empty.
	for _, mount := range mounts {
		for parent := filepath.Dir(root); parent != "/" && parent != "."; parent = filepath.Dir(parent) {
			if os.Remove(filepath.Join(mount, parent)) != nil {
				break
			}
		}
	}
	unmountUnder(dir)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if lastErr != nil {
		return fmt.Errorf("cgroups of %s left: %w", root, lastErr)
	}
	return nil
}

// unmountUnder detaches every mount of this mount namespace at or below dir (and the node's
// mounts on /var/lib/kubelet and /run/containerd when this is the node's namespace).
func unmountUnder(dir string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	hostNamespace, _ := sameMountNamespaceAsParent()
	var targets []string
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		target := fields[4]
		under := target == dir || strings.HasPrefix(target, dir+"/")
		if !hostNamespace && (strings.HasPrefix(target, "/var/lib/kubelet") || target == "/run/containerd" || strings.HasPrefix(target, "/proc/sys/")) {
			under = true
		}
		if under {
			targets = append(targets, target)
		}
	}
	for i := len(targets) - 1; i >= 0; i-- {
		_ = unix.Unmount(targets[i], unix.MNT_DETACH)
	}
}
