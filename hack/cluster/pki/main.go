// Command pki writes the certificates and kubeconfigs of the local cluster
// (hack/cluster/up.sh): a cluster CA, the API server's serving and kubelet-client
// certificates, the service-account key pair, a client certificate and kubeconfig per
// component and one for the admin, and the kubelet's serving certificate. Nothing is
// downloaded. Files that already exist are kept, so a restart keeps its identities.
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// validity is long enough that a development cluster never meets an expiry.
const validity = 10 * 365 * 24 * time.Hour

func main() {
	dir := flag.String("dir", "", "directory for the certificates and kubeconfigs (created)")
	server := flag.String("server", "", "API server URL written into the kubeconfigs")
	node := flag.String("node", "", "node name (the kubelet's identity)")
	ips := flag.String("apiserver-ips", "", "comma-separated IP addresses the API server answers on")
	nodeIP := flag.String("node-ip", "", "IP address the kubelet serves on")
	flag.Parse()
	if *dir == "" || *server == "" || *node == "" || *ips == "" || *nodeIP == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*dir, *server, *node, strings.Split(*ips, ","), *nodeIP); err != nil {
		log.Fatalf("pki: %v", err)
	}
}

type pair struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func run(dir, server, node string, apiIPs []string, nodeIP string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ca, err := loadOrCreateCA(dir)
	if err != nil {
		return err
	}
	apiSANs := []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost"}
	apiSANs = append(apiSANs, apiIPs...)
	leaves := []struct {
		name, cn string
		orgs     []string
		server   bool
		sans     []string
	}{
		{"apiserver", "kube-apiserver", nil, true, apiSANs},
		{"apiserver-kubelet-client", "kube-apiserver-kubelet-client", []string{"system:masters"}, false, nil},
		{"admin", "jwtgate-cluster-admin", []string{"system:masters"}, false, nil},
		{"controller-manager", "system:kube-controller-manager", nil, false, nil},
		{"scheduler", "system:kube-scheduler", nil, false, nil},
		{"kube-proxy", "system:kube-proxy", nil, false, nil},
		{"kubelet-client", "system:node:" + node, []string{"system:nodes"}, false, nil},
		{"kubelet", node, nil, true, []string{node, "localhost", "127.0.0.1", nodeIP}},
	}
	for _, l := range leaves {
		if exists(filepath.Join(dir, l.name+".crt")) {
			continue
		}
		if err := issue(dir, ca, l.name, l.cn, l.orgs, l.server, l.sans); err != nil {
			return fmt.Errorf("%s: %w", l.name, err)
		}
	}
	if !exists(filepath.Join(dir, "sa.key")) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		if err := writeKey(filepath.Join(dir, "sa.key"), key); err != nil {
			return err
		}
		pub, err := x509.MarshalPKIXPublicKey(key.Public())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
			return err
		}
	}
	// Kubeconfigs embed the credentials, so they stay valid when copied elsewhere.
	for _, k := range []struct{ file, cert string }{
		{"admin.kubeconfig", "admin"},
		{"controller-manager.kubeconfig", "controller-manager"},
		{"scheduler.kubeconfig", "scheduler"},
		{"kube-proxy.kubeconfig", "kube-proxy"},
		{"kubelet.kubeconfig", "kubelet-client"},
	} {
		if err := writeKubeconfig(dir, k.file, k.cert, server); err != nil {
			return err
		}
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

func loadOrCreateCA(dir string) (pair, error) {
	certPath, keyPath := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if exists(certPath) {
		certPEM, err := os.ReadFile(certPath)
		if err != nil {
			return pair{}, err
		}
		keyPEM, err := os.ReadFile(keyPath)
		if err != nil {
			return pair{}, err
		}
		cb, _ := pem.Decode(certPEM)
		kb, _ := pem.Decode(keyPEM)
		if cb == nil || kb == nil {
			return pair{}, errors.New("ca.crt or ca.key is not PEM")
		}
		cert, err := x509.ParseCertificate(cb.Bytes)
		if err != nil {
			return pair{}, err
		}
		key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
		if err != nil {
			return pair{}, err
		}
		return pair{cert, key.(crypto.Signer)}, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return pair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "jwtgate-cluster-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return pair{}, err
	}
	cert, _ := x509.ParseCertificate(der)
	if err := writeKey(keyPath, key); err != nil {
		return pair{}, err
	}
	return pair{cert, key}, os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func issue(dir string, ca pair, name, cn string, orgs []string, server bool, sans []string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn, Organization: orgs},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	for _, s := range sans {
		if ip := net.ParseIP(s); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, s)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return err
	}
	if err := writeKey(filepath.Join(dir, name+".key"), key); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err)
	}
	return n
}

func writeKey(path string, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

func writeKubeconfig(dir, file, cert, server string) error {
	b64 := func(name string) (string, error) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		return base64.StdEncoding.EncodeToString(data), err
	}
	ca, err := b64("ca.crt")
	if err != nil {
		return err
	}
	crt, err := b64(cert + ".crt")
	if err != nil {
		return err
	}
	key, err := b64(cert + ".key")
	if err != nil {
		return err
	}
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: jwtgate
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: %s
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: jwtgate
  context:
    cluster: jwtgate
    user: %s
current-context: jwtgate
`, server, ca, cert, crt, key, cert)
	return os.WriteFile(filepath.Join(dir, file), []byte(cfg), 0o600)
}
