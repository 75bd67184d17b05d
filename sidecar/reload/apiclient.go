package reload

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// The sidecar reads one ConfigMap and writes an occasional Event, so it
// talks to the API server with net/http and a few JSON types of its own
// rather than client-go: client-go's scheme of every API group tripled the
// binary and the memory of an idle sidecar (docs/performance.md, "Sidecar
// profile").

// APIConfig is how the sidecar reaches the API server.
type APIConfig struct {
	// Host is the server's URL, e.g. https://10.0.0.1:443.
	Host string
	// CAData are the PEM certificates the server's must chain to; empty
	// means the system's.
	CAData     []byte
	ServerName string
	// Insecure skips verifying the server's certificate (a kubeconfig's
	// insecure-skip-tls-verify).
	Insecure bool
	// BearerToken, or BearerTokenFile: read again for every request, since
	// the kubelet rotates a projected service account token in place.
	BearerToken     string
	BearerTokenFile string
	// CertData and KeyData are a PEM client certificate and its key.
	CertData, KeyData []byte
}

// In-cluster service account files and environment, as the kubelet
// provides them.
var (
	inClusterTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	inClusterCAFile    = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
)

// LoadAPIConfig returns the API client configuration: the kubeconfig file
// when given, otherwise the pod's in-cluster service account.
func LoadAPIConfig(kubeconfig string) (*APIConfig, error) {
	if kubeconfig != "" {
		return loadKubeconfig(kubeconfig)
	}
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, errors.New("not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set; give --kubeconfig")
	}
	if _, err := os.Stat(inClusterTokenFile); err != nil {
		return nil, fmt.Errorf("in-cluster service account token: %w", err)
	}
	ca, err := os.ReadFile(inClusterCAFile)
	if err != nil {
		return nil, fmt.Errorf("in-cluster CA bundle: %w", err)
	}
	return &APIConfig{Host: "https://" + net.JoinHostPort(host, port), CAData: ca, BearerTokenFile: inClusterTokenFile}, nil
}

// kubeconfig is the part of a kubeconfig file the sidecar uses.
type kubeconfig struct {
	CurrentContext string `json:"current-context"`
	Contexts       []struct {
		Name    string `json:"name"`
		Context struct {
			Cluster  string `json:"cluster"`
			AuthInfo string `json:"user"`
		} `json:"context"`
	} `json:"contexts"`
	Clusters []struct {
		Name    string `json:"name"`
		Cluster struct {
			Server                   string `json:"server"`
			CertificateAuthority     string `json:"certificate-authority"`
			CertificateAuthorityData []byte `json:"certificate-authority-data"`
			InsecureSkipTLSVerify    bool   `json:"insecure-skip-tls-verify"`
			TLSServerName            string `json:"tls-server-name"`
			ProxyURL                 string `json:"proxy-url"`
		} `json:"cluster"`
	} `json:"clusters"`
	Users []struct {
		Name string `json:"name"`
		User struct {
			Token                 string          `json:"token"`
			TokenFile             string          `json:"tokenFile"`
			ClientCertificate     string          `json:"client-certificate"`
			ClientCertificateData []byte          `json:"client-certificate-data"`
			ClientKey             string          `json:"client-key"`
			ClientKeyData         []byte          `json:"client-key-data"`
			Exec                  json.RawMessage `json:"exec"`
			AuthProvider          json.RawMessage `json:"auth-provider"`
			Username              string          `json:"username"`
		} `json:"user"`
	} `json:"users"`
}

// loadKubeconfig reads the current context of a kubeconfig file: server,
// CA, and a token or client certificate (files relative to the
// kubeconfig's directory, as kubectl reads them).
func loadKubeconfig(path string) (*APIConfig, error) {
	raw, err := os.ReadFile(path) //nolint:gosec // the operator-given --kubeconfig
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig: %w", err)
	}
	var kc kubeconfig
	if err := yaml.Unmarshal(raw, &kc); err != nil {
		return nil, fmt.Errorf("--kubeconfig %s: %w", path, err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("--kubeconfig %s: "+format, append([]any{path}, a...)...)
	}
	var clusterName, userName string
	found := false
	for _, c := range kc.Contexts {
		if c.Name == kc.CurrentContext {
			clusterName, userName, found = c.Context.Cluster, c.Context.AuthInfo, true
		}
	}
	if !found {
		return nil, bad("current-context %q names no context; set current-context to one of its contexts", kc.CurrentContext)
	}
	dir := filepath.Dir(path)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	readInto := func(dst *[]byte, file, field string) error {
		if len(*dst) > 0 || file == "" {
			return nil
		}
		b, err := os.ReadFile(rel(file)) //nolint:gosec // a path the kubeconfig names
		if err != nil {
			return bad("%s: %v", field, err)
		}
		*dst = b
		return nil
	}
	cfg := &APIConfig{}
	found = false
	for _, c := range kc.Clusters {
		if c.Name != clusterName {
			continue
		}
		found = true
		cl := c.Cluster
		if cl.ProxyURL != "" {
			return nil, bad("cluster %q: proxy-url is not supported; reach the API server directly", clusterName)
		}
		cfg.Host, cfg.CAData, cfg.Insecure, cfg.ServerName = cl.Server, cl.CertificateAuthorityData, cl.InsecureSkipTLSVerify, cl.TLSServerName
		if err := readInto(&cfg.CAData, cl.CertificateAuthority, "certificate-authority"); err != nil {
			return nil, err
		}
	}
	if !found || cfg.Host == "" {
		return nil, bad("cluster %q has no server; set clusters[].cluster.server", clusterName)
	}
	for _, u := range kc.Users {
		if u.Name != userName {
			continue
		}
		us := u.User
		if len(us.Exec) > 0 || len(us.AuthProvider) > 0 || us.Username != "" {
			return nil, bad("user %q: only token, tokenFile and client certificates are supported (not exec, auth-provider or basic auth)", userName)
		}
		cfg.BearerToken, cfg.BearerTokenFile = us.Token, rel(us.TokenFile)
		cfg.CertData, cfg.KeyData = us.ClientCertificateData, us.ClientKeyData
		if err := readInto(&cfg.CertData, us.ClientCertificate, "client-certificate"); err != nil {
			return nil, err
		}
		if err := readInto(&cfg.KeyData, us.ClientKey, "client-key"); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// apiClient makes the sidecar's few API calls.
type apiClient struct {
	host   string
	cfg    *APIConfig
	client *http.Client
}

func newAPIClient(cfg *APIConfig) (*apiClient, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.ServerName, InsecureSkipVerify: cfg.Insecure} //nolint:gosec // only when the kubeconfig says insecure-skip-tls-verify
	if len(cfg.CAData) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.CAData) {
			return nil, errors.New("API CA bundle: no PEM certificate in it")
		}
		tlsCfg.RootCAs = pool
	}
	if len(cfg.CertData) > 0 || len(cfg.KeyData) > 0 {
		cert, err := tls.X509KeyPair(cfg.CertData, cfg.KeyData)
		if err != nil {
			return nil, fmt.Errorf("API client certificate: %w", err)
		}
		tlsCfg.Certificates = []tls.Certificate{cert}
	}
	tr := &http.Transport{
		TLSClientConfig:     tlsCfg,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        2,
		IdleConnTimeout:     90 * time.Second,
	}
	return &apiClient{host: strings.TrimSuffix(cfg.Host, "/"), cfg: cfg, client: &http.Client{Transport: tr}}, nil
}

// apiStatus is an answer other than the one asked for, or a watch's ERROR
// event: the API's Status object.
type apiStatus struct {
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func (s *apiStatus) Error() string {
	if s.Message == "" {
		return fmt.Sprintf("API server answered %d %s", s.Code, s.Reason)
	}
	return fmt.Sprintf("API server answered %d %s: %s", s.Code, s.Reason, s.Message)
}

// gone reports whether err says the resourceVersion asked for is too old
// (410): the watch must list again.
func gone(err error) bool {
	var s *apiStatus
	return errors.As(err, &s) && s.Code == http.StatusGone
}

// do sends one request; an answer other than want is returned as an
// *apiStatus. The caller closes the body of a wanted answer.
func (c *apiClient) do(ctx context.Context, method, path string, body []byte, want int) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, c.host+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", ReportingController)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	tok := c.cfg.BearerToken
	if c.cfg.BearerTokenFile != "" {
		b, err := os.ReadFile(c.cfg.BearerTokenFile)
		if err != nil {
			return nil, fmt.Errorf("API token: %w", err)
		}
		tok = strings.TrimSpace(string(b))
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode == want {
		return res, nil
	}
	defer res.Body.Close()
	st := &apiStatus{}
	if b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10)); json.Unmarshal(b, st) != nil || st.Code == 0 {
		st = &apiStatus{Code: res.StatusCode, Reason: http.StatusText(res.StatusCode)}
	}
	return nil, st
}
