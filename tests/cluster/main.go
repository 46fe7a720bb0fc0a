// Command kcp is the project's test control plane: one multi-call binary built from the official
// Kubernetes Go modules. `kcp up` supervises embedded etcd plus kube-apiserver,
// kube-controller-manager, kube-scheduler and the KWOK node/pod simulator, each run as a child
// process of this same binary (so their global state never collides). `kcp node` runs a real
// node (containerd built from its own module, plus this binary's kubelet and kube-proxy) inside a
// network namespace. `kcp kubectl` (or the
// binary invoked through a link named `kubectl`) is kubectl from the same release;
// `kcp mint-kubeconfig` writes a kubeconfig for a ServiceAccount.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/component-base/cli"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

const usage = `usage: kcp <command> [flags]

commands:
  up               start the control plane in the foreground (see kcp up --help)
  mint-kubeconfig  write a kubeconfig for a ServiceAccount (TokenRequest API)
  kubectl          kubectl from the same Kubernetes release
  node             run a real node: containerd, kubelet and kube-proxy (see kcp node --help)
  node-clean       remove what a killed 'kcp node' left (processes, cgroups, state)
  apiserver | controller-manager | scheduler | kwok   (run by 'up')
  kubelet | kube-proxy                                (run by 'node')
`

func main() {
	// Invoked as `kubectl` (a link to this binary): behave exactly like kubectl.
	if filepath.Base(os.Args[0]) == "kubectl" {
		os.Exit(cli.Run(kubectlcmd.NewDefaultKubectlCommand()))
	}
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	command, rest := os.Args[1], os.Args[2:]
	// Each component parses os.Args itself: present it as if it were its own binary.
	os.Args = append([]string{os.Args[0] + " " + command}, rest...)
	switch command {
	case "up":
		os.Exit(runUp(rest))
	case "mint-kubeconfig":
		os.Exit(runMint(rest))
	case "kubectl":
		os.Exit(cli.Run(kubectlcmd.NewDefaultKubectlCommand()))
	case "apiserver":
		os.Exit(cli.Run(apiserver.NewAPIServerCommand()))
	case "controller-manager":
		os.Exit(cli.Run(controllermanager.NewControllerManagerCommand()))
	case "scheduler":
		os.Exit(cli.Run(scheduler.NewSchedulerCommand()))
	case "kwok":
		os.Exit(runKwok(context.Background()))
	case "node":
		os.Exit(runNode(rest))
	case "node-clean":
		os.Exit(runNodeClean(rest))
	case "kubelet":
		os.Exit(cli.Run(kubelet.NewKubeletCommand(context.Background())))
	case "kube-proxy":
		os.Exit(cli.Run(proxy.NewProxyCommand()))
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "kcp: unknown command %q\n%s", command, usage)
		os.Exit(2)
	}
}
