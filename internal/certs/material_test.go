package certs

import (
	"crypto/x509"
	"net"
	"strings"
	"testing"
	"time"
)

var (
	t0     = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	policy = Policy{
		CALifetime: 90 * time.Minute, CertLifetime: 30 * time.Minute, Backdate: time.Minute,
		PropagationDelay: 2 * time.Minute, DNSNames: []string{"jwtgate-webhook.jwtgate-system.svc"}, IPs: []net.IP{net.ParseIP("127.0.0.1")},
	}
)

// verifies says whether a client trusting bundle accepts the leaf for the name at now.
func verifies(leaf *x509.Certificate, bundle []*x509.Certificate, now time.Time) error {
	pool := x509.NewCertPool()
	for _, c := range bundle {
		pool.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: policy.DNSNames[0], CurrentTime: now})
	return err
}

func mustPlan(t *testing.T, cur *Material, now time.Time) (*Material, bool) {
	t.Helper()
	m, changed, err := Plan(cur, now, policy)
	if err != nil {
		t.Fatal(err)
	}
	return m, changed
}

func TestPlanFresh(t *testing.T) {
	m, changed := mustPlan(t, nil, t0)
	if !changed || len(m.CAs) != 1 || m.Leaf == nil {
		t.Fatalf("fresh plan: changed=%v cas=%d", changed, len(m.CAs))
	}
	if err := verifies(m.Leaf, m.CAs, t0); err != nil {
		t.Fatal(err)
	}
	if !m.Leaf.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) {
		t.Errorf("IP SAN missing: %v", m.Leaf.IPAddresses)
	}
	if _, changed := mustPlan(t, m, t0.Add(time.Minute)); changed {
		t.Error("nothing was due, yet the plan changed")
	}
}

func TestPlanRenewsLeafWithAThirdLeft(t *testing.T) {
	m, _ := mustPlan(t, nil, t0)
	if _, changed := mustPlan(t, m, t0.Add(19*time.Minute)); changed {
		t.Error("renewed with more than a third of the lifetime left")
	}
	next, changed := mustPlan(t, m, t0.Add(21*time.Minute))
	if !changed || next.Leaf.Equal(m.Leaf) {
		t.Fatal("leaf not renewed with less than a third left")
	}
	if len(next.CAs) != 1 || !next.CAs[0].Equal(m.CAs[0]) {
		t.Error("leaf renewal replaced the CA")
	}
}

func TestPlanStagesNewCABeforeUsingIt(t *testing.T) {
	m, _ := mustPlan(t, nil, t0)
	m, _ = mustPlan(t, m, t0.Add(25*time.Minute))
	m, _ = mustPlan(t, m, t0.Add(50*time.Minute)) // a fresh leaf from the first CA
	now := t0.Add(61 * time.Minute)               // CA has less than a third left
	staged, changed := mustPlan(t, m, now)
	if !changed || len(staged.CAs) != 2 || !staged.CAs[1].Equal(m.CAs[0]) {
		t.Fatalf("new CA not staged in front of the old one (cas=%d)", len(staged.CAs))
	}
	if !signedBy(staged.Leaf, m.CAs[0]) {
		t.Fatal("the serving certificate switched to the new CA before it propagated")
	}
	later, changed := mustPlan(t, staged, now.Add(policy.PropagationDelay))
	if !changed || !signedBy(later.Leaf, later.CAs[0]) {
		t.Fatal("serving certificate not reissued from the new CA after the propagation delay")
	}
	// The old CA leaves the bundle only once expired.
	dropped, _ := mustPlan(t, later, m.CAs[0].NotAfter)
	if len(dropped.CAs) != 1 || !dropped.CAs[0].Equal(later.CAs[0]) {
		t.Errorf("expired CA not dropped: %d CAs", len(dropped.CAs))
	}
}

func TestPlanReissuesOnNameChange(t *testing.T) {
	m, _ := mustPlan(t, nil, t0)
	p := policy
	p.DNSNames = []string{"other.ns.svc"}
	next, changed, err := Plan(m, t0.Add(time.Minute), p)
	if err != nil || !changed || next.Leaf.DNSNames[0] != "other.ns.svc" {
		t.Fatalf("names changed but leaf kept: %v %v", changed, err)
	}
}

// TestRotationNeverBreaksTrust simulates three CA lifetimes in small steps
// with an API server that sees the bundle PropagationDelay/2 late: at every
// step the served certificate must verify against that stale bundle.
func TestRotationNeverBreaksTrust(t *testing.T) {
	var cur *Material
	type snap struct {
		at     time.Time
		bundle []*x509.Certificate
	}
	var history []snap
	seenCAs := map[string]bool{}
	step := 20 * time.Second
	lag := policy.PropagationDelay / 2
	for now := t0; now.Before(t0.Add(3 * policy.CALifetime)); now = now.Add(step) {
		cur, _ = mustPlan(t, cur, now)
		history = append(history, snap{now, cur.CAs})
		seenCAs[string(cur.CAs[0].Raw)] = true
		// The bundle the API server knows: the newest one at least `lag` old.
		known := history[0].bundle
		for _, h := range history {
			if !h.at.After(now.Add(-lag)) {
				known = h.bundle
			}
		}
		if now.Sub(t0) < lag {
			continue // before the first publication there is nothing to trust
		}
		if err := verifies(cur.Leaf, known, now); err != nil {
			t.Fatalf("at +%s the served certificate is not trusted by the published bundle: %v", now.Sub(t0), err)
		}
	}
	if len(seenCAs) < 3 {
		t.Errorf("only %d CAs over three CA lifetimes; rotation did not happen", len(seenCAs))
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	m, _ := mustPlan(t, nil, t0)
	data, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(data, t0.Format(time.RFC3339Nano))
	if err != nil {
		t.Fatal(err)
	}
	if !back.Leaf.Equal(m.Leaf) || !back.CAs[0].Equal(m.CAs[0]) || !back.Staged.Equal(t0) {
		t.Error("round trip lost data")
	}
	if _, changed := mustPlan(t, back, t0.Add(time.Minute)); changed {
		t.Error("decoded material is not recognised as current")
	}
}

func TestDecodeRejectsMismatchedCAKey(t *testing.T) {
	a, _ := mustPlan(t, nil, t0)
	b, _ := mustPlan(t, nil, t0)
	data, _ := a.Encode()
	other, _ := b.Encode()
	data[KeyCAKey] = other[KeyCAKey]
	if _, err := Decode(data, ""); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("want a key mismatch error, got %v", err)
	}
	delete(data, KeyCABundle)
	if _, err := Decode(data, ""); err == nil {
		t.Fatal("missing bundle accepted")
	}
}

func TestDecodeReissuesMismatchedLeafKey(t *testing.T) {
	a, _ := mustPlan(t, nil, t0)
	data, _ := a.Encode()
	b, _ := mustPlan(t, a, t0.Add(25*time.Minute)) // new leaf, same CA
	data[KeyKey] = b.LeafKeyPEM
	m, err := Decode(data, t0.Format(time.RFC3339Nano))
	if err != nil {
		t.Fatal(err)
	}
	next, changed := mustPlan(t, m, t0.Add(time.Minute))
	if !changed || next.Leaf == nil {
		t.Fatal("a serving certificate whose key does not match was kept")
	}
}

func TestOptionsValidation(t *testing.T) {
	o := Options{Namespace: "ns", SecretName: "s", WebhookConfigName: "w", Policy: Policy{DNSNames: []string{"a"}}}
	if err := o.defaults(); err != nil {
		t.Fatalf("defaults rejected: %v", err)
	}
	bad := Options{Namespace: "ns", SecretName: "s", WebhookConfigName: "w", Policy: Policy{DNSNames: []string{"a"}, CALifetime: time.Minute}, Interval: time.Minute}
	if err := bad.defaults(); err == nil || !strings.Contains(err.Error(), "CALifetime") {
		t.Fatalf("a CA lifetime shorter than the switch-over was accepted: %v", err)
	}
	if err := (&Options{}).defaults(); err == nil || !strings.Contains(err.Error(), "required") {
		t.Fatalf("missing names accepted: %v", err)
	}
}
