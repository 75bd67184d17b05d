package certs

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
)

// In cert-manager mode the gauge follows the mounted certificate,
// renewals included.
func TestFileExpiryFollowsTheMountedCertificate(t *testing.T) {
	now := time.Now()
	path := filepath.Join(t.TempDir(), "tls.crt")
	f := &FileExpiry{Path: path, Log: logr.Discard()}
	if err := f.Check(); err == nil {
		t.Fatal("a missing file is not an error")
	}
	for _, lifetime := range []time.Duration{24 * time.Hour, 48 * time.Hour} {
		m, _, err := Plan(nil, now, Policy{DNSNames: []string{"w.ns.svc"}, CALifetime: 10 * lifetime, CertLifetime: lifetime})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, m.LeafPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := f.Check(); err != nil {
			t.Fatal(err)
		}
		if got, want := expiryValue(t), float64(m.Leaf.NotAfter.Unix()); got != want {
			t.Errorf("gauge %v, want %v", got, want)
		}
	}
	if err := os.WriteFile(path, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.Check(); err == nil {
		t.Error("a file without a certificate is not an error")
	}
}

func expiryValue(t *testing.T) float64 {
	reg := prometheus.NewRegistry()
	reg.MustRegister(expiry)
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 {
		t.Fatalf("gathered %v, %v", mfs, err)
	}
	return mfs[0].GetMetric()[0].GetGauge().GetValue()
}
