package proxy_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/jwtgate/jwtgate/sidecar/keys"
	"github.com/jwtgate/jwtgate/sidecar/proxy"
)

// staticApp answers in-process, so a benchmark measures the sidecar's own
// work rather than loopback TCP.
type staticApp struct{}

func (staticApp) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
}

func benchEnv(b *testing.B, transport http.RoundTripper) *env {
	e := newEnv(b, nil)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	reg := keys.NewRegistry(ctx, keys.NewHTTPClient(2*time.Second), keys.Options{}, nil, nil)
	e.h = proxy.New(proxy.Options{Keys: reg, Log: slog.New(slog.DiscardHandler), Transport: transport})
	e.apply(b)
	for ok, _ := e.h.Ready(); !ok; ok, _ = e.h.Ready() {
		time.Sleep(time.Millisecond)
	}
	return e
}

func benchRequest(b *testing.B, e *env, path, tok string, want int) {
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("User-Agent", "bench")
	req.Header.Set("Accept", "application/json")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := req.Clone(req.Context())
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		if w.Code != want {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

func BenchmarkRequestRS256(b *testing.B) {
	e := benchEnv(b, staticApp{})
	benchRequest(b, e, "/my/colors", e.token("rsa-1", nil), 200)
}

func BenchmarkRequestES256(b *testing.B) {
	e := benchEnv(b, staticApp{})
	benchRequest(b, e, "/my/colors", e.token("ec-1", nil), 200)
}

func BenchmarkRequestRS256Loopback(b *testing.B) {
	e := benchEnv(b, nil) // real transport to the echo app over loopback
	benchRequest(b, e, "/my/colors", e.token("rsa-1", nil), 200)
}

func BenchmarkRejectedExpiredToken(b *testing.B) {
	e := benchEnv(b, staticApp{})
	benchRequest(b, e, "/my/colors", e.token("rsa-1", func(m map[string]any) { m["exp"] = 1 }), 401)
}

func BenchmarkRejectedMalformedToken(b *testing.B) {
	e := benchEnv(b, staticApp{})
	benchRequest(b, e, "/my/colors", "not-a-token", 401)
}

func BenchmarkPublicRoute(b *testing.B) {
	e := benchEnv(b, staticApp{})
	benchRequest(b, e, "/colors", "x", 200)
}

// The signature checks alone, to subtract from the full-request figures.
func benchSignature(b *testing.B, e *env, kid string) {
	tok := e.token(kid, nil)
	k := e.iss.Key(kid)
	i := strings.LastIndexByte(tok, '.')
	sig, _ := jwsDecode(tok[i+1:])
	v, _ := jws.NewVerifier(jwa.SignatureAlgorithm(k.Alg))
	input := []byte(tok[:i])
	pub := k.Private.Public()
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(input, sig, pub); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignatureOnlyRS256(b *testing.B) { benchSignature(b, newEnv(b, nil), "rsa-1") }
func BenchmarkSignatureOnlyES256(b *testing.B) { benchSignature(b, newEnv(b, nil), "ec-1") }
