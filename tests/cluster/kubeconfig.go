package main

import (
	"encoding/base64"
	"fmt"
	"os"
)

// writeKubeconfig writes a kubeconfig for server with either a client certificate pair or a
// bearer token.
func writeKubeconfig(path, server, caFile, user, certFile, keyFile, token, namespace string) error {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	userBlock := ""
	if token != "" {
		userBlock = fmt.Sprintf("    token: %s\n", token)
	} else {
		cert, err := os.ReadFile(certFile)
		if err != nil {
			return err
		}
		key, err := os.ReadFile(keyFile)
		if err != nil {
			return err
		}
		userBlock = fmt.Sprintf("    client-certificate-data: %s\n    client-key-data: %s\n",
			base64.StdEncoding.EncodeToString(cert), base64.StdEncoding.EncodeToString(key))
	}
	nsLine := ""
	if namespace != "" {
		nsLine = fmt.Sprintf("    namespace: %s\n", namespace)
	}
	text := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: metallb-rs-test
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: %s
  user:
%scontexts:
- name: metallb-rs-test
  context:
    cluster: metallb-rs-test
    user: %s
%scurrent-context: metallb-rs-test
`, server, base64.StdEncoding.EncodeToString(ca), user, userBlock, user, nsLine)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
