package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// runMint writes a kubeconfig that authenticates as a ServiceAccount, with a token from the
// TokenRequest API.
func runMint(args []string) int {
	fs := flag.NewFlagSet("kcp mint-kubeconfig", flag.ContinueOnError)
	admin := fs.String("kubeconfig", "", "admin kubeconfig (required)")
	namespace := fs.String("namespace", "", "namespace of the ServiceAccount (required)")
	account := fs.String("service-account", "", "ServiceAccount name (required)")
	out := fs.String("out", "", "where to write the kubeconfig (required)")
	hours := fs.Int("hours", 24, "token lifetime in hours")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *admin == "" || *namespace == "" || *account == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "kcp mint-kubeconfig: --kubeconfig, --namespace, --service-account and --out are required")
		return 2
	}
	config, err := clientcmd.BuildConfigFromFlags("", *admin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kcp mint-kubeconfig: %v\n", err)
		return 1
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kcp mint-kubeconfig: %v\n", err)
		return 1
	}
	seconds := int64(*hours) * 3600
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	token, err := client.CoreV1().ServiceAccounts(*namespace).CreateToken(ctx, *account,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds}}, metav1.CreateOptions{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "kcp mint-kubeconfig: token for %s/%s: %v\n", *namespace, *account, err)
		return 1
	}
	caFile, err := os.CreateTemp("", "kcp-ca-*.crt")
	if err != nil {
		fmt.Fprintf(os.Stderr, "kcp mint-kubeconfig: %v\n", err)
		return 1
	}
	defer os.Remove(caFile.Name())
	if _, err := caFile.Write(config.CAData); err != nil {
		return 1
	}
	caFile.Close()
	user := fmt.Sprintf("system:serviceaccount:%s:%s", *namespace, *account)
	if err := writeKubeconfig(*out, config.Host, caFile.Name(), user, "", "", token.Status.Token, *namespace); err != nil {
		fmt.Fprintf(os.Stderr, "kcp mint-kubeconfig: %v\n", err)
		return 1
	}
	return 0
}
