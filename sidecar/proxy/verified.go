package proxy

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"time"

	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/tokencache"
	"github.com/jwtgate/jwtgate/sidecar/verify"
)

// TokenCache remembers verified tokens across requests (Options.TokenCache).
type TokenCache = tokencache.Cache[*verify.Token]

// NewTokenCache returns a cache of at most maxBytes whose entries live at
// most maxAge; nil (no caching) when maxBytes is 0.
func NewTokenCache(maxBytes int64, maxAge time.Duration) *TokenCache {
	return tokencache.New[*verify.Token](maxBytes, maxAge)
}

// generations says which key set is in force; *keys.Cache implements it.
type generations interface {
	Generation() (gen uint64, ok bool)
}

// verify is the authorizer's verification step: policy.Verify, skipped
// for a token that verified before under this configuration and this key
// set, whose time claims are then checked again. Scopes and claim
// requirements are the rule's, checked per request after this.
func (a *authorizer) verify(ctx context.Context, raw string, now time.Time) (*verify.Token, error) {
	if a.cache == nil {
		return a.policy.Verify(ctx, raw, now)
	}
	gen, ok := a.keys.Generation()
	if !ok { // no keys to trust now: Verify says so (503)
		return a.policy.Verify(ctx, raw, now)
	}
	if tok, hit := a.cache.Get(raw, gen, now); hit {
		if err := a.policy.Recheck(tok, now); err != nil {
			return nil, err
		}
		return tok, nil
	}
	// gen was read before Verify looked up the key: should the keys change
	// in between, the entry is put in under the older generation, which no
	// lookup asks for any more.
	tok, err := a.policy.Verify(ctx, raw, now)
	if err == nil {
		a.cache.Put(tok.Compact, gen, tok, tok.Size(), tok.Expiry(), now)
	}
	return tok, err
}

// cacheScope gives a its part of tc, keyed by a fingerprint of everything
// that decides what Verify accepts and returns: the whole authorizer
// configuration and the claims Verify picks out for the rules.
func (a *authorizer) cacheScope(tc *TokenCache, cfg *config.Authorizer) uint64 {
	b, err := json.Marshal(struct {
		A      *config.Authorizer
		Claims []string
	}{cfg, a.policy.Claims})
	if err != nil { // cannot happen for plain data; never share a scope then
		return 0
	}
	sum := sha256.Sum256(b)
	fp := binary.LittleEndian.Uint64(sum[:])
	a.cache = tc.Scope(a.name, fp)
	return fp
}
