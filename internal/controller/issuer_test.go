package controller

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net"

	"github.com/lestrrat-go/jwx/v2/jwk"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
)

// newIssuer starts a real OIDC issuer on loopback for one spec (the sidecar
// engineer's shared test issuer), closed when the spec ends.
func newIssuer() *devissuertest.Issuer {
	iss := devissuertest.New(nil)
	DeferCleanup(iss.Server.Close)
	return iss
}

// unusableSet is a JWKS in which no key may verify a token: a 1024-bit RSA
// key, an encryption key and a symmetric secret.
func unusableSet() []byte {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	Expect(err).NotTo(HaveOccurred())
	big, err := rsa.GenerateKey(rand.Reader, 2048)
	Expect(err).NotTo(HaveOccurred())
	k1, err := jwk.FromRaw(&small.PublicKey)
	Expect(err).NotTo(HaveOccurred())
	Expect(k1.Set(jwk.KeyIDKey, "small")).To(Succeed())
	k2, err := jwk.FromRaw(&big.PublicKey)
	Expect(err).NotTo(HaveOccurred())
	Expect(k2.Set(jwk.KeyIDKey, "enc")).To(Succeed())
	Expect(k2.Set(jwk.KeyUsageKey, "enc")).To(Succeed())
	k3, err := jwk.FromRaw([]byte("a shared secret that must never verify"))
	Expect(err).NotTo(HaveOccurred())
	Expect(k3.Set(jwk.KeyIDKey, "hmac")).To(Succeed())
	set := jwk.NewSet()
	for _, k := range []jwk.Key{k1, k2, k3} {
		Expect(set.AddKey(k)).To(Succeed())
	}
	out, err := json.Marshal(set)
	Expect(err).NotTo(HaveOccurred())
	return out
}

// closedURL is a loopback URL nothing listens on.
func closedURL() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	addr := l.Addr().String()
	Expect(l.Close()).To(Succeed())
	return "http://" + addr + "/jwks"
}
