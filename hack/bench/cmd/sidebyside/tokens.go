package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jwtgate/jwtgate/hack/bench/token"
)

// The request every peer is measured on.
const path = "/my/colors"

// Scenarios: which Authorization headers the load sends, in turn.
const (
	scenarioForward    = "forwarded, same token (no auth)"
	scenarioSame       = "same RS256 token repeated"
	scenarioDistinctRS = "distinct RS256 token per request"
	scenarioDistinctES = "distinct ES256 token per request"
	scenarioNoToken    = "refused: no token"
	scenarioBadSig     = "refused: bad signature"
)

var allTokenScenarios = []string{scenarioSame, scenarioDistinctRS, scenarioDistinctES, scenarioNoToken, scenarioBadSig}

// tokens holds every token of the run and the files wrk reads them from.
type tokens struct {
	keys         *token.Keys
	issuer       string
	same         string
	sameES       string
	badSignature string
	rs, es       []string
	files        map[string]string // scenario → file of Authorization values, one a line
}

// mintTokens makes the pools: distinct tokens differ in jti; a pool
// larger than the sidecar's cache keeps every request of a distinct run a
// miss (checked against its hit counter).
func mintTokens(keys *token.Keys, issuer string, pool int, dir string) (*tokens, error) {
	now := time.Now()
	t := &tokens{keys: keys, issuer: issuer, files: map[string]string{}}
	var err error
	if t.same, err = keys.Sign("RS256", token.Good(issuer, now, "same-rs256-0001")); err != nil {
		return nil, err
	}
	if t.sameES, err = keys.Sign("ES256", token.Good(issuer, now, "same-es256-0001")); err != nil {
		return nil, err
	}
	// Change one signature character in the middle: the token still parses.
	mid := strings.LastIndexByte(t.same, '.') + 100
	flip := byte('A')
	if t.same[mid] == 'A' {
		flip = 'B'
	}
	t.badSignature = t.same[:mid] + string(flip) + t.same[mid+1:]
	if t.rs, err = mintPool(keys, "RS256", issuer, now, pool); err != nil {
		return nil, err
	}
	if t.es, err = mintPool(keys, "ES256", issuer, now, pool); err != nil {
		return nil, err
	}
	for scenario, list := range map[string][]string{
		scenarioForward: {t.same}, scenarioSame: {t.same}, scenarioDistinctRS: t.rs, scenarioDistinctES: t.es,
		scenarioNoToken: {""}, scenarioBadSig: {t.badSignature},
	} {
		f := filepath.Join(dir, fmt.Sprintf("tokens-%d.txt", len(t.files)))
		var b strings.Builder
		for _, tok := range list {
			if tok != "" {
				b.WriteString("Bearer " + tok)
			}
			b.WriteByte('\n')
		}
		if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
			return nil, err
		}
		t.files[scenario] = f
	}
	return t, nil
}

// headers are the Authorization values a scenario sends in turn.
func (t *tokens) headers(scenario string) []string {
	switch scenario {
	case scenarioDistinctRS:
		return prefixed(t.rs)
	case scenarioDistinctES:
		return prefixed(t.es)
	case scenarioNoToken:
		return []string{""}
	case scenarioBadSig:
		return []string{"Bearer " + t.badSignature}
	}
	return []string{"Bearer " + t.same}
}

func prefixed(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = "Bearer " + t
	}
	return out
}

// mintPool signs n tokens on every core (RSA signing is the slow part).
func mintPool(keys *token.Keys, alg, issuer string, now time.Time, n int) ([]string, error) {
	out := make([]string, n)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 2 {
				tok, err := keys.Sign(alg, token.Good(issuer, now, fmt.Sprintf("%s-%08d", strings.ToLower(alg), i)))
				if err != nil {
					errs[w] = err
					return
				}
				out[i] = tok
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
