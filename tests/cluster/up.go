package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"golang.org/x/sys/unix"
)

// Ranges from the documentation/benchmark blocks, so that no test ever points at a real network.
const (
	serviceCIDRs = "198.19.0.0/17,2001:db8:5e::/112"
	podCIDR      = "198.19.192.0/20"
)

// readyInfo is written to DIR/ready.json once the control plane answers.
type readyInfo struct {
	Server     string `json:"server"`
	Kubeconfig string `json:"kubeconfig"`
	PID        int    `json:"pid"`
	StartedMs  int64  `json:"started_ms"`
}

// freePort finds a port nothing listens on, below the kernel's ephemeral range: a port the
// kernel handed out (listening on :0) may be taken by any outgoing connection before the
// component binds it, as happened to etcd while other tests connected.
func freePort(host string) (int, error) {
	low := ephemeralLow()
	for i := 0; i < 200 && low > firstPort; i++ {
		port := firstPort + rand.IntN(low-firstPort)
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			continue
		}
		l.Close()
		return port, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// firstPort is the lowest port freePort picks (below it: well-known and registered services).
const firstPort = 10000

// ephemeralLow is the first port of the kernel's ephemeral range (32768 if unknown).
func ephemeralLow() int {
	text, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	var low, high int
	if _, err := fmt.Sscan(string(text), &low, &high); err != nil {
		return 32768
	}
	return low
}

type supervisor struct {
	self     string
	dir      string
	logs     string
	children map[string]*exec.Cmd
	exited   chan string
}

// start runs `kcp <component> args...` as a child that dies with this process.
func (s *supervisor) start(component string, args ...string) error {
	logFile, err := os.OpenFile(s.logPath(component), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.self, append([]string{component}, args...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), "HOME="+s.dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s: %w", component, err)
	}
	s.children[component] = cmd
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		s.exited <- component
	}()
	return nil
}

func (s *supervisor) logPath(component string) string {
	return filepath.Join(s.logs, component+".log")
}

// stopAll asks every child to stop, and kills the ones still running after five seconds.
func (s *supervisor) stopAll() {
	for _, cmd := range s.children {
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	deadline := time.After(5 * time.Second)
	for len(s.children) > 0 {
		select {
		case name := <-s.exited:
			delete(s.children, name)
		case <-deadline:
			for _, cmd := range s.children {
				_ = cmd.Process.Kill()
			}
			for len(s.children) > 0 {
				delete(s.children, <-s.exited)
			}
		}
	}
}

func waitReady(ctx context.Context, server string, p pki, timeout time.Duration) error {
	caPEM, err := os.ReadFile(p.path("ca.crt"))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(p.path("admin.crt"), p.path("admin.key"))
	if err != nil {
		return err
	}
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}
	defer transport.CloseIdleConnections()
	client := &http.Client{Timeout: 2 * time.Second, Transport: transport}
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for time.Now().Before(deadline) {
		resp, err := client.Get(server + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("API server not ready after %s: %s", timeout, last)
}

// errStopped marks a requested stop (signal or parent exit): not a failure.
var errStopped = errors.New("stopped")

// watchParent cancels ctx when process pid exits (through a pidfd, so a reused pid cannot fool
// it; by polling on kernels without pidfd_open).
func watchParent(pid int, cancel context.CancelCauseFunc) error {
	stop := func() { cancel(fmt.Errorf("%w: parent process %d exited", errStopped, pid)) }
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ENOSYS) {
		if syscall.Kill(pid, 0) != nil {
			return fmt.Errorf("parent process %d is not running", pid)
		}
		go func() {
			for syscall.Kill(pid, 0) == nil {
				time.Sleep(250 * time.Millisecond)
			}
			stop()
		}()
		return nil
	}
	if err != nil {
		return fmt.Errorf("parent process %d: %w", pid, err)
	}
	go func() {
		defer unix.Close(fd)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(fds, -1); err != unix.EINTR {
				break
			}
		}
		stop()
	}()
	return nil
}

// lockDir takes an exclusive lock on dir for the life of this process, so two control planes
// never share one state directory. The lock goes away with the process, even on SIGKILL.
func lockDir(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, "kcp.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		pid, _ := os.ReadFile(filepath.Join(dir, "kcp.pid"))
		return fmt.Errorf("another control plane (pid %s) is running in %s", bytes.TrimSpace(pid), dir)
	}
	dirLock = f
	return nil
}

// dirLock keeps the state directory's lock file open (and locked) for the life of the process.
var dirLock *os.File

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

func runUp(args []string) int {
	fs := flag.NewFlagSet("kcp up", flag.ContinueOnError)
	dir := fs.String("dir", "", "state directory (required)")
	address := fs.String("address", "127.0.0.1", "address the API server listens on")
	port := fs.Int("port", 0, "API server port (0: pick a free one)")
	parentPID := fs.Int("parent-pid", 0, "stop when this process exits")
	removeOnExit := fs.Bool("remove-on-exit", false, "delete the state directory when stopping")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "kcp up: --dir is required")
		return 2
	}
	// Whoever reads our output may go away first: a write must not kill us before cleanup.
	signal.Ignore(syscall.SIGPIPE)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		sig := <-signals
		cancel(fmt.Errorf("%w on %s", errStopped, sig))
	}()
	if *parentPID > 0 {
		if err := watchParent(*parentPID, cancel); err != nil {
			fmt.Fprintf(os.Stderr, "kcp up: %v\n", err)
			return 1
		}
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		fmt.Fprintf(os.Stderr, "kcp up: %v\n", err)
		return 1
	}
	if err := lockDir(*dir); err != nil {
		fmt.Fprintf(os.Stderr, "kcp up: %v\n", err)
		return 1
	}
	err := up(ctx, *dir, *address, *port, time.Now())
	code := 0
	switch {
	case errors.Is(err, errStopped):
		fmt.Printf("%v\n", err)
	case err != nil:
		fmt.Fprintf(os.Stderr, "kcp up: %v\n", err)
		code = 1
	}
	_ = os.Remove(filepath.Join(*dir, "ready.json"))
	_ = os.Remove(filepath.Join(*dir, "kcp.pid"))
	if *removeOnExit {
		_ = os.RemoveAll(*dir)
	}
	return code
}

// componentError reports a component failure with the end of its log (the log itself may be
// removed with the state directory).
func componentError(s *supervisor, component string, err error) error {
	return fmt.Errorf("%s: %w; last lines of %s:\n%s", component, err, s.logPath(component), tail(s.logPath(component), 30))
}

func up(ctx context.Context, dir, address string, port int, started time.Time) error {
	ip := net.ParseIP(address)
	if ip == nil {
		return fmt.Errorf("--address %q is not an IP address", address)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot find own binary: %w", err)
	}
	s := &supervisor{self: self, dir: dir, logs: filepath.Join(dir, "logs"), children: map[string]*exec.Cmd{}, exited: make(chan string, 8)}
	if err := os.MkdirAll(s.logs, 0o700); err != nil {
		return err
	}
	_ = os.Remove(filepath.Join(dir, "ready.json"))
	if err := os.WriteFile(filepath.Join(dir, "kcp.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	p := pki{dir: filepath.Join(dir, "pki")}
	if err := p.ensure(ip); err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	if port == 0 {
		if port, err = freePort(address); err != nil {
			return fmt.Errorf("no free port on %s: %w", address, err)
		}
	}
	// etcd only ever listens on loopback.
	etcdClient, err := freePort("127.0.0.1")
	if err != nil {
		return fmt.Errorf("etcd needs the loopback interface (in a new network namespace: `ip link set lo up`): %w", err)
	}
	etcdPeer, err := freePort("127.0.0.1")
	if err != nil {
		return fmt.Errorf("no free loopback port for etcd: %w", err)
	}

	cfg := embed.NewConfig()
	cfg.Name = "kcp"
	cfg.Dir = filepath.Join(dir, "etcd")
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{s.logPath("etcd")}
	// A throw-away test store: no fsync, small raft log in memory, 1 GiB quota.
	cfg.UnsafeNoFsync = true
	cfg.SnapshotCount = 2000
	cfg.SnapshotCatchUpEntries = 1000
	cfg.QuotaBackendBytes = 1 << 30
	client := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", etcdClient)}
	peer := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", etcdPeer)}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	etcd, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("etcd: %w; last lines of %s:\n%s", err, s.logPath("etcd"), tail(s.logPath("etcd"), 30))
	}
	defer etcd.Close()
	select {
	case <-etcd.Server.ReadyNotify():
	case err := <-etcd.Err():
		return fmt.Errorf("etcd: %w", err)
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-time.After(30 * time.Second):
		return fmt.Errorf("etcd did not become ready in 30s; see %s", s.logPath("etcd"))
	}

	server := fmt.Sprintf("https://%s", net.JoinHostPort(address, strconv.Itoa(port)))
	kubeconfig := filepath.Join(dir, "admin.kubeconfig")
	defer s.stopAll()
	if err := s.start("apiserver",
		"--etcd-servers="+client.String(),
		"--bind-address="+address,
		"--advertise-address="+address,
		"--secure-port="+strconv.Itoa(port),
		"--tls-cert-file="+p.path("apiserver.crt"),
		"--tls-private-key-file="+p.path("apiserver.key"),
		"--client-ca-file="+p.path("ca.crt"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+p.path("sa.pub"),
		"--service-account-signing-key-file="+p.path("sa.key"),
		"--service-cluster-ip-range="+serviceCIDRs,
		"--authorization-mode=Node,RBAC",
		"--kubelet-client-certificate="+p.path("kubelet-client.crt"),
		"--kubelet-client-key="+p.path("kubelet-client.key"),
		"--kubelet-preferred-address-types=InternalIP,Hostname",
		"--allow-privileged=true",
		"--cert-dir="+filepath.Join(dir, "apiserver"),
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		"--v=1",
	); err != nil {
		return err
	}
	// Stop waiting early if the API server exits.
	readyCtx, stopWaiting := context.WithCancelCause(ctx)
	consumed := make(chan string, 1)
	go func() {
		select {
		case name := <-s.exited:
			stopWaiting(componentError(s, name, errors.New("exited during startup")))
			consumed <- name
		case <-readyCtx.Done():
			consumed <- ""
		}
	}()
	err = waitReady(readyCtx, server, p, 90*time.Second)
	stopWaiting(nil)
	if name := <-consumed; name != "" {
		delete(s.children, name)
		if err == nil {
			return componentError(s, name, errors.New("exited"))
		}
		return err
	}
	if err != nil {
		if errors.Is(err, errStopped) {
			return err
		}
		return componentError(s, "apiserver", err)
	}
	if err := writeKubeconfig(kubeconfig, server, p.path("ca.crt"), "admin", p.path("admin.crt"), p.path("admin.key"), "", ""); err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	stages := filepath.Join(dir, "kwok-stages.yaml")
	if err := os.WriteFile(stages, []byte(kwokStages()), 0o644); err != nil {
		return err
	}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"controller-manager", []string{
			"--kubeconfig=" + kubeconfig,
			"--authentication-kubeconfig=" + kubeconfig,
			"--authorization-kubeconfig=" + kubeconfig,
			"--leader-elect=false",
			"--secure-port=0",
			"--use-service-account-credentials=true",
			"--service-account-private-key-file=" + p.path("sa.key"),
			"--root-ca-file=" + p.path("ca.crt"),
			"--cluster-signing-cert-file=" + p.path("ca.crt"),
			"--cluster-signing-key-file=" + p.path("ca.key"),
			"--service-cluster-ip-range=" + serviceCIDRs,
			"--v=1",
		}},
		{"scheduler", []string{
			"--kubeconfig=" + kubeconfig,
			"--authentication-kubeconfig=" + kubeconfig,
			"--authorization-kubeconfig=" + kubeconfig,
			"--leader-elect=false",
			"--secure-port=0",
			"--v=1",
		}},
		{"kwok", []string{
			"--config=" + stages,
			"--kubeconfig=" + kubeconfig,
			"--manage-all-nodes=false",
			"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
			"--cidr=" + podCIDR,
			"--node-ip=" + address,
		}},
	} {
		if err := s.start(c.name, c.args...); err != nil {
			return err
		}
	}
	info, err := json.Marshal(readyInfo{Server: server, Kubeconfig: kubeconfig, PID: os.Getpid(), StartedMs: time.Since(started).Milliseconds()})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ready.json.tmp"), info, 0o644); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(dir, "ready.json.tmp"), filepath.Join(dir, "ready.json")); err != nil {
		return err
	}
	fmt.Printf("ready in %dms: %s (kubeconfig %s)\n", time.Since(started).Milliseconds(), server, kubeconfig)

	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case name := <-s.exited:
		delete(s.children, name)
		return componentError(s, name, errors.New("exited"))
	}
}
