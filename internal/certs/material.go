// Package certs keeps the injection webhook's serving certificate: a CA and
// a serving certificate in a Secret, the CA bundle in the webhook
// configuration, renewed well before expiry and served without a restart.
//
// A new CA is published in the bundle next to the old one before any
// serving certificate it signed is used, so the API server trusts the
// server at every moment of a rotation.
package certs

import (
	"bytes"
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
	"slices"
	"time"
)

// Secret keys. tls.crt/tls.key/ca.crt follow the kubernetes.io/tls and
// cert-manager conventions; ca.key is the current CA's key.
const (
	KeyCert     = "tls.crt"
	KeyKey      = "tls.key"
	KeyCABundle = "ca.crt"
	KeyCAKey    = "ca.key"
	// AnnotationCAStaged records when the current CA entered the bundle.
	AnnotationCAStaged = "jwtgate.io/ca-staged-at"
)

// Material is the parsed content of the Secret.
type Material struct {
	// CAs are the trusted CAs, the current (signing) one first.
	CAs                 []*x509.Certificate
	CAKey               *ecdsa.PrivateKey
	Leaf                *x509.Certificate
	LeafPEM, LeafKeyPEM []byte
	// Staged is when CAs[0] was published.
	Staged time.Time
}

// Policy holds the lifetimes and identities of issued certificates.
type Policy struct {
	CALifetime, CertLifetime time.Duration
	// Backdate is subtracted from NotBefore to tolerate clock skew.
	Backdate time.Duration
	// PropagationDelay is how long a new CA sits in the bundle before a
	// serving certificate it signed is used.
	PropagationDelay time.Duration
	DNSNames         []string
	IPs              []net.IP
}

// renewDue is true once a third of the certificate's configured lifetime
// remains: "well before expiry", with room for retries.
func renewDue(c *x509.Certificate, lifetime time.Duration, now time.Time) bool {
	return !now.Before(c.NotAfter.Add(-lifetime / 3))
}

// Plan computes the next Material from the current one (nil when there is
// none or it is unreadable). changed is false when nothing needs writing.
// It is pure apart from key generation, so every rotation rule is unit tested.
func Plan(cur *Material, now time.Time, p Policy) (next *Material, changed bool, err error) {
	if cur == nil || len(cur.CAs) == 0 || cur.CAKey == nil || !now.Before(cur.CAs[0].NotAfter) {
		ca, key, err := newCA(now, p)
		if err != nil {
			return nil, false, err
		}
		m := &Material{CAs: []*x509.Certificate{ca}, CAKey: key, Staged: now}
		if err := m.issue(now, p); err != nil {
			return nil, false, err
		}
		return m, true, nil
	}
	m := *cur
	m.CAs = slices.DeleteFunc(slices.Clone(cur.CAs), func(c *x509.Certificate) bool { return !now.Before(c.NotAfter) })
	changed = len(m.CAs) != len(cur.CAs)

	if renewDue(m.CAs[0], p.CALifetime, now) {
		ca, key, err := newCA(now, p)
		if err != nil {
			return nil, false, err
		}
		m.CAs = append([]*x509.Certificate{ca}, m.CAs...)
		m.CAKey, m.Staged, changed = key, now, true
	}

	leafOK := m.Leaf != nil && now.Before(m.Leaf.NotAfter) && trustedBy(m.Leaf, m.CAs)
	switch {
	case !leafOK, !sameNames(m.Leaf, p):
		// Unusable now: issue at once, even from a CA still propagating.
	case renewDue(m.Leaf, p.CertLifetime, now), !signedBy(m.Leaf, m.CAs[0]):
		// Renew, but only from a CA the API server has had time to learn.
		if now.Before(m.Staged.Add(p.PropagationDelay)) {
			return &m, changed, nil
		}
	default:
		return &m, changed, nil
	}
	if err := m.issue(now, p); err != nil {
		return nil, false, err
	}
	return &m, true, nil
}

func (m *Material) issue(now time.Time, p Policy) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	notAfter := now.Add(p.CertLifetime)
	if ca := m.CAs[0]; ca.NotAfter.Before(notAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: firstName(p)},
		NotBefore:    now.Add(-p.Backdate),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     p.DNSNames,
		IPAddresses:  p.IPs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, m.CAs[0], &key.PublicKey, m.CAKey)
	if err != nil {
		return err
	}
	m.Leaf, _ = x509.ParseCertificate(der)
	m.LeafPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	m.LeafKeyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	return nil
}

func newCA(now time.Time, p Policy) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: fmt.Sprintf("jwtgate-webhook-ca@%d", now.Unix())},
		NotBefore:             now.Add(-p.Backdate),
		NotAfter:              now.Add(p.CALifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	return ca, key, err
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func firstName(p Policy) string {
	if len(p.DNSNames) > 0 {
		return p.DNSNames[0]
	}
	if len(p.IPs) > 0 {
		return p.IPs[0].String()
	}
	return "jwtgate-webhook"
}

func signedBy(c, ca *x509.Certificate) bool { return c.CheckSignatureFrom(ca) == nil }

func trustedBy(c *x509.Certificate, cas []*x509.Certificate) bool {
	return slices.ContainsFunc(cas, func(ca *x509.Certificate) bool { return signedBy(c, ca) })
}

func sameNames(c *x509.Certificate, p Policy) bool {
	if c == nil || !slices.Equal(c.DNSNames, p.DNSNames) || len(c.IPAddresses) != len(p.IPs) {
		return false
	}
	for i, ip := range p.IPs {
		if !c.IPAddresses[i].Equal(ip) {
			return false
		}
	}
	return true
}

// BundlePEM is the CA bundle, current CA first.
func (m *Material) BundlePEM() []byte {
	return EncodeCerts(m.CAs)
}

// EncodeCerts PEM-encodes certificates in order.
func EncodeCerts(certs []*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// ParseCerts reads every CERTIFICATE block of a PEM bundle.
func ParseCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Encode is the Secret data for m.
func (m *Material) Encode() (map[string][]byte, error) {
	kder, err := x509.MarshalECPrivateKey(m.CAKey)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		KeyCert:     m.LeafPEM,
		KeyKey:      m.LeafKeyPEM,
		KeyCABundle: m.BundlePEM(),
		KeyCAKey:    pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
	}, nil
}

// Decode parses Secret data; any missing or unreadable part is an error,
// after which the caller starts afresh.
func Decode(data map[string][]byte, staged string) (*Material, error) {
	m := &Material{LeafPEM: data[KeyCert], LeafKeyPEM: data[KeyKey]}
	var err error
	if m.CAs, err = ParseCerts(data[KeyCABundle]); err != nil || len(m.CAs) == 0 {
		return nil, errors.Join(errors.New("no readable CA bundle"), err)
	}
	b, _ := pem.Decode(data[KeyCAKey])
	if b == nil {
		return nil, errors.New("no readable CA key")
	}
	if m.CAKey, err = x509.ParseECPrivateKey(b.Bytes); err != nil {
		return nil, err
	}
	if !m.CAKey.PublicKey.Equal(m.CAs[0].PublicKey) {
		return nil, errors.New("CA key does not match the first CA of the bundle")
	}
	leaves, err := ParseCerts(m.LeafPEM)
	if err != nil || len(leaves) == 0 {
		return nil, errors.Join(errors.New("no readable serving certificate"), err)
	}
	m.Leaf = leaves[0]
	if _, err := tls.X509KeyPair(m.LeafPEM, m.LeafKeyPEM); err != nil {
		m.Leaf = nil // Plan issues a new one
	}
	if m.Staged, err = time.Parse(time.RFC3339Nano, staged); err != nil {
		// Unknown staging time: assume it just happened, which only delays use.
		m.Staged = time.Now()
	}
	return m, nil
}
