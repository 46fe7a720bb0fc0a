package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki holds the paths of the control plane's certificates and keys.
type pki struct {
	dir string
}

func (p pki) path(name string) string { return filepath.Join(p.dir, name) }

func writePEM(path, kind string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600)
}

func readPEM(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	return block.Bytes, nil
}

func newKey() (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalECPrivateKey(key)
	return key, der, err
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

const validity = 10 * 365 * 24 * time.Hour

// ca is the loaded certificate authority.
type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// ensure creates, unless they exist, the CA, the admin client certificate (group
// system:masters) and the service-account signing key; and (re)issues the API server's serving
// certificate when it does not cover every address it is reached on.
func (p pki) ensure(address net.IP) error {
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return err
	}
	authority, err := p.loadCA()
	if errors.Is(err, os.ErrNotExist) {
		authority, err = p.createAll()
	}
	if err != nil {
		return fmt.Errorf("certificate authority in %s: %w", p.dir, err)
	}
	// The API server's client certificate towards kubelets (logs, exec, port-forward).
	if _, err := os.Stat(p.path("kubelet-client.crt")); errors.Is(err, os.ErrNotExist) {
		if err := p.issue(authority, "kubelet-client", &x509.Certificate{
			Subject:     pkix.Name{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}); err != nil {
			return err
		}
	}
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("198.19.0.1"), net.ParseIP("2001:db8:5e::1"), address}
	if p.servingCovers(ips) {
		return nil
	}
	return p.issue(authority, "apiserver", &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPAddresses: ips,
	})
}

// servingCovers says whether the API server's certificate and key exist, match, and name every
// one of ips.
func (p pki) servingCovers(ips []net.IP) bool {
	pair, err := tls.LoadX509KeyPair(p.path("apiserver.crt"), p.path("apiserver.key"))
	if err != nil || len(pair.Certificate) == 0 {
		return false
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return false
	}
	for _, ip := range ips {
		if cert.VerifyHostname(ip.String()) != nil {
			return false
		}
	}
	return true
}

func (p pki) loadCA() (ca, error) {
	certDer, err := readPEM(p.path("ca.crt"))
	if err != nil {
		return ca{}, err
	}
	keyDer, err := readPEM(p.path("ca.key"))
	if err != nil {
		return ca{}, err
	}
	cert, err := x509.ParseCertificate(certDer)
	if err != nil {
		return ca{}, err
	}
	key, err := x509.ParseECPrivateKey(keyDer)
	if err != nil {
		return ca{}, err
	}
	for _, name := range []string{"admin.crt", "admin.key", "sa.key", "sa.pub"} {
		if _, err := os.Stat(p.path(name)); err != nil {
			return ca{}, err
		}
	}
	return ca{cert: cert, key: key}, nil
}

// createAll creates the CA, the admin certificate and the service-account key pair.
func (p pki) createAll() (ca, error) {
	now := time.Now().Add(-time.Hour)
	caKey, caKeyDer, err := newKey()
	if err != nil {
		return ca{}, err
	}
	template := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "metallb-rs test CA"},
		NotBefore:             now,
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	certDer, err := x509.CreateCertificate(rand.Reader, template, template, &caKey.PublicKey, caKey)
	if err != nil {
		return ca{}, err
	}
	cert, err := x509.ParseCertificate(certDer)
	if err != nil {
		return ca{}, err
	}
	if err := writePEM(p.path("ca.crt"), "CERTIFICATE", certDer); err != nil {
		return ca{}, err
	}
	if err := writePEM(p.path("ca.key"), "EC PRIVATE KEY", caKeyDer); err != nil {
		return ca{}, err
	}
	authority := ca{cert: cert, key: caKey}
	if err := p.issue(authority, "admin", &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kubernetes-admin", Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return ca{}, err
	}
	saKey, saDer, err := newKey()
	if err != nil {
		return ca{}, err
	}
	pubDer, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return ca{}, err
	}
	if err := writePEM(p.path("sa.key"), "EC PRIVATE KEY", saDer); err != nil {
		return ca{}, err
	}
	if err := writePEM(p.path("sa.pub"), "PUBLIC KEY", pubDer); err != nil {
		return ca{}, err
	}
	return authority, nil
}

// issue signs template with the CA and writes name.crt and name.key.
func (p pki) issue(authority ca, name string, template *x509.Certificate) error {
	key, keyDer, err := newKey()
	if err != nil {
		return err
	}
	now := time.Now().Add(-time.Hour)
	template.SerialNumber = serial()
	template.NotBefore = now
	template.NotAfter = now.Add(validity)
	template.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	der, err := x509.CreateCertificate(rand.Reader, template, authority.cert, &key.PublicKey, authority.key)
	if err != nil {
		return fmt.Errorf("issuing %s: %w", name, err)
	}
	if err := writePEM(p.path(name+".key"), "EC PRIVATE KEY", keyDer); err != nil {
		return err
	}
	return writePEM(p.path(name+".crt"), "CERTIFICATE", der)
}
