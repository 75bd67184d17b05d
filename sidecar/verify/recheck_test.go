package verify_test

import (
	"context"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/jwtgate/jwtgate/sidecar/verify"
)

// A verified token may be kept and looked at again later: it owns its
// memory, knows its expiry and size, and Recheck repeats the time checks.
func TestVerifiedTokenCanBeKept(t *testing.T) {
	p := policy(t)
	now := time.Unix(1_800_000_000, 0)
	raw := rsaKey.Sign(claims(func(m map[string]any) {
		m["iat"], m["nbf"], m["exp"] = now.Unix(), now.Unix(), 1_800_000_300.5
	}), nil)
	in := strings.Clone(raw)
	tok, err := p.Verify(context.Background(), in, now)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Compact != raw {
		t.Fatal("Compact is not the token")
	}
	start, end := uintptr(unsafe.Pointer(unsafe.StringData(in))), uintptr(unsafe.Pointer(unsafe.StringData(in)))+uintptr(len(in))
	for _, s := range []string{tok.Compact, tok.Payload} {
		if p := uintptr(unsafe.Pointer(unsafe.StringData(s))); p >= start && p < end {
			t.Fatal("the token points into the caller's string")
		}
	}
	if got, want := tok.Expiry(), time.Unix(1_800_000_300, 5e8); !got.Equal(want) {
		t.Fatalf("expiry %v, want %v", got, want)
	}
	if n := tok.Size(); n < 2*len(raw) || n > 4*len(raw) {
		t.Fatalf("size %d for a %d-byte token", n, len(raw))
	}
	for _, c := range []struct {
		at   time.Time
		want verify.Reason
	}{
		{now, ""},
		{now.Add(300*time.Second + time.Minute), ""}, // within the skew
		{now.Add(301*time.Second + time.Minute), verify.ReasonExpired},
		{now.Add(-time.Minute), ""},
		{now.Add(-time.Minute - time.Second), verify.ReasonNotYetValid},
	} {
		err := p.Recheck(tok, c.at)
		if c.want == "" && err != nil || c.want != "" && (err == nil || err.(*verify.Error).Reason != c.want) {
			t.Errorf("at %v: %v, want %q", c.at.Sub(now), err, c.want)
		}
	}
}
