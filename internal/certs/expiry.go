package certs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"
)

// FileExpiry publishes jwtgate_webhook_cert_expiry_timestamp_seconds for a
// serving certificate someone else writes (cert-manager's Secret, mounted
// in the webhook's certificate directory), so the expiry alert works in
// every certificate mode. It reads the file again each Interval, which
// follows cert-manager's renewals.
type FileExpiry struct {
	// Path is the PEM certificate file (tls.crt); its first certificate
	// is the one served.
	Path string
	// Interval between reads (default 1m).
	Interval time.Duration
	Log      logr.Logger
	last     time.Time
}

// NeedLeaderElection is false: every replica serves the webhook.
func (*FileExpiry) NeedLeaderElection() bool { return false }

// Start reads the file until ctx ends; failures are logged and retried.
func (f *FileExpiry) Start(ctx context.Context) error {
	if f.Interval <= 0 {
		f.Interval = time.Minute
	}
	t := time.NewTicker(f.Interval)
	defer t.Stop()
	for {
		if err := f.Check(); err != nil {
			f.Log.Error(err, "cannot read the webhook serving certificate's expiry", "path", f.Path)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Check reads the certificate once and sets the gauge.
func (f *FileExpiry) Check() error {
	data, err := os.ReadFile(f.Path)
	if err != nil {
		return err
	}
	cs, err := ParseCerts(data)
	if err == nil && len(cs) == 0 {
		err = errors.New("no certificate in the file")
	}
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	expiry.Set(float64(cs[0].NotAfter.Unix()))
	if !cs[0].NotAfter.Equal(f.last) {
		f.last = cs[0].NotAfter
		f.Log.Info("serving webhook certificate", "path", f.Path, "expires", f.last)
	}
	return nil
}
