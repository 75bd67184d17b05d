package verify

import (
	"strings"
	"sync"
	"unsafe"

	"github.com/jwtgate/jwtgate/sidecar/jsonscan"
)

// IssuerIndex returns the index in issuers of the one the token's `iss`
// names byte for byte, or -1 when it names none or cannot be read. It
// checks nothing else: it only picks which authorizer verifies the token,
// so a rule with several costs one payload decode, never a key lookup or
// signature check per candidate.
func IssuerIndex(token string, issuers []string) int {
	if len(token) > MaxTokenBytes {
		return -1
	}
	_, rest, ok := strings.Cut(token, ".")
	seg, _, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return -1
	}
	// Decoded into a pooled buffer, so picking allocates nothing: no part
	// of the payload outlives this call.
	var in [MaxTokenBytes]byte
	out := payloads.Get().(*[MaxTokenBytes * 3 / 4]byte)
	defer payloads.Put(out)
	n, err := b64.Decode(out[:], in[:copy(in[:], seg)])
	if err != nil || n == 0 {
		return -1
	}
	o := jsonscan.NewObject(unsafe.String(&out[0], n))
	for o.Next() {
		if o.Key != "iss" {
			continue
		}
		iss, ok := jsonscan.Unquote(o.Value)
		if !ok {
			return -1
		}
		for i, want := range issuers {
			if iss == want {
				return i
			}
		}
		return -1
	}
	return -1
}

var payloads = sync.Pool{New: func() any { return new([MaxTokenBytes * 3 / 4]byte) }}
