package devissuer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// MintParams is what a command line asks /mint for; zero fields are left
// to the issuer's defaults.
type MintParams struct {
	Subject   string
	Scopes    []string
	Audience  string
	Algorithm string
	TTL       time.Duration
	// Claims are string claims (claim.NAME=VALUE); a name given several
	// values becomes an array claim.
	Claims map[string][]string
	// ClaimsJSON is a JSON object of claims of any shape.
	ClaimsJSON string
}

// Query encodes p as /mint's query parameters (ParseMintQuery reads them).
func (p MintParams) Query() url.Values {
	q := url.Values{}
	set := func(name, v string) {
		if v != "" {
			q.Set(name, v)
		}
	}
	set("sub", p.Subject)
	set("scope", strings.Join(p.Scopes, " "))
	set("aud", p.Audience)
	set("alg", p.Algorithm)
	set("claims", p.ClaimsJSON)
	if p.TTL != 0 {
		q.Set("ttl", p.TTL.String())
	}
	for name, vals := range p.Claims {
		q[claimParamPrefix+name] = vals
	}
	return q
}

// FetchToken asks the running issuer at issuerURL for a token, so that its
// keys stay in one process and tokens verify against what it publishes.
func FetchToken(ctx context.Context, issuerURL string, p MintParams) (string, error) {
	return FetchTokenWith(ctx, &http.Client{Timeout: 5 * time.Second}, issuerURL, p)
}

// NewClient returns the client FetchTokenWith needs for an issuer: one that
// trusts the PEM CA certificates in caFile, or the system's when it is "".
func NewClient(caFile string) (*http.Client, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	if caFile == "" {
		return client, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--cacert %s: no PEM certificate in it", caFile)
	}
	client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	return client, nil
}

// FetchTokenWith is FetchToken through client, e.g. one that trusts the
// test CA of an issuer serving https.
func FetchTokenWith(ctx context.Context, client *http.Client, issuerURL string, p MintParams) (string, error) {
	u := strings.TrimSuffix(issuerURL, "/") + MintPath + "?" + p.Query().Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("issuer URL %q: %w", issuerURL, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("is the dev issuer running at %s? %w", issuerURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return strings.TrimSpace(string(body)), nil
}
