package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
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

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
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
	logFile, err := os.OpenFile(filepath.Join(s.logs, component+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.self, append([]string{component}, args...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), "HOME="+s.dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
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

func (s *supervisor) stopAll() {
	for _, cmd := range s.children {
		if cmd.Process != nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	deadline := time.After(5 * time.Second)
	for remaining := len(s.children); remaining > 0; {
		select {
		case <-s.exited:
			remaining--
		case <-deadline:
			for _, cmd := range s.children {
				if cmd.Process != nil {
					_ = cmd.Process.Kill()
				}
			}
			return
		}
	}
}

func waitReady(server string, p pki, timeout time.Duration) error {
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
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}},
	}
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
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("API server not ready after %s: %s", timeout, last)
}

func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
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
	started := time.Now()
	code := up(*dir, *address, *port, *parentPID, started)
	if *removeOnExit {
		_ = os.RemoveAll(*dir)
	}
	return code
}

func up(dir, address string, port, parentPID int, started time.Time) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "kcp up: "+format+"\n", a...)
		return 1
	}
	ip := net.ParseIP(address)
	if ip == nil {
		return fail("--address %q is not an IP address", address)
	}
	self, err := os.Executable()
	if err != nil {
		return fail("cannot find own binary: %v", err)
	}
	s := &supervisor{self: self, dir: dir, logs: filepath.Join(dir, "logs"), children: map[string]*exec.Cmd{}, exited: make(chan string, 8)}
	for _, d := range []string{dir, s.logs} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fail("%v", err)
		}
	}
	_ = os.Remove(filepath.Join(dir, "ready.json"))
	if err := os.WriteFile(filepath.Join(dir, "kcp.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fail("%v", err)
	}
	p := pki{dir: filepath.Join(dir, "pki")}
	if err := p.ensure([]net.IP{ip}); err != nil {
		return fail("certificates: %v", err)
	}
	if port == 0 {
		if port, err = freePort(address); err != nil {
			return fail("no free port on %s: %v", address, err)
		}
	}
	etcdClient, err1 := freePort("127.0.0.1")
	etcdPeer, err2 := freePort("127.0.0.1")
	if err1 != nil || err2 != nil {
		return fail("no free port for etcd")
	}

	cfg := embed.NewConfig()
	cfg.Name = "kcp"
	cfg.Dir = filepath.Join(dir, "etcd")
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{filepath.Join(s.logs, "etcd.log")}
	cfg.UnsafeNoFsync = true
	client := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", etcdClient)}
	peer := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", etcdPeer)}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	etcd, err := embed.StartEtcd(cfg)
	if err != nil {
		return fail("etcd: %v", err)
	}
	defer etcd.Close()
	select {
	case <-etcd.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		return fail("etcd did not become ready")
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
		"--allow-privileged=true",
		"--cert-dir="+filepath.Join(dir, "apiserver"),
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		"--v=1",
	); err != nil {
		return fail("%v", err)
	}
	if err := waitReady(server, p, 90*time.Second); err != nil {
		return fail("%v (see %s)", err, filepath.Join(s.logs, "apiserver.log"))
	}
	if err := writeKubeconfig(kubeconfig, server, p.path("ca.crt"), "admin", p.path("admin.crt"), p.path("admin.key"), "", ""); err != nil {
		return fail("kubeconfig: %v", err)
	}
	stages := filepath.Join(dir, "kwok-stages.yaml")
	if err := os.WriteFile(stages, []byte(kwokStages()), 0o644); err != nil {
		return fail("%v", err)
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
			return fail("%v", err)
		}
	}
	info, _ := json.Marshal(readyInfo{Server: server, Kubeconfig: kubeconfig, PID: os.Getpid(), StartedMs: time.Since(started).Milliseconds()})
	if err := os.WriteFile(filepath.Join(dir, "ready.json"), info, 0o644); err != nil {
		return fail("%v", err)
	}
	fmt.Printf("ready in %dms: %s (kubeconfig %s)\n", time.Since(started).Milliseconds(), server, kubeconfig)

	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case sig := <-signals:
			fmt.Printf("stopping on %s\n", sig)
			_ = os.Remove(filepath.Join(dir, "ready.json"))
			return 0
		case name := <-s.exited:
			delete(s.children, name)
			_ = os.Remove(filepath.Join(dir, "ready.json"))
			return fail("%s exited; see %s", name, filepath.Join(s.logs, name+".log"))
		case <-tick.C:
			if parentPID > 0 && !alive(parentPID) {
				_ = os.Remove(filepath.Join(dir, "ready.json"))
				return 0
			}
		}
	}
}
