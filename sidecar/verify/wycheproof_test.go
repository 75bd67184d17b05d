package verify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/jwtgate/jwtgate/sidecar/keys"
	"github.com/jwtgate/jwtgate/sidecar/verify"
)

// wycheproofDir is ../shared/testdata/wycheproof relative to the repository
// root, i.e. three levels up from this package.
const wycheproofDir = "../../../shared/testdata/wycheproof"

type wpFile struct {
	TestGroups []struct {
		Comment string          `json:"comment"`
		Public  json.RawMessage `json:"public"`
		Private json.RawMessage `json:"private"`
		Tests   []struct {
			TcID    int      `json:"tcId"`
			Comment string   `json:"comment"`
			JWS     string   `json:"jws"`
			Result  string   `json:"result"`
			Flags   []string `json:"flags"`
		} `json:"tests"`
	} `json:"testGroups"`
}

// divergences lists every vector whose expected result ("valid") we do not
// reproduce, with the reason. Accepting a vector Wycheproof calls invalid is
// never a permitted divergence.
var divergences = map[string]string{
	// HMAC: the sidecar verifies with issuer public keys only; symmetric keys
	// in a JWKS are skipped and HS* is never on the allow-list.
	"json_web_signature_test.json#1":   hmac,
	"json_web_signature_test.json#348": hmac,
	"json_web_signature_test.json#352": hmac,
	"json_web_signature_test.json#357": hmac,
	"json_web_signature_test.json#358": hmac,
	"json_web_signature_test.json#359": hmac,
	"json_web_signature_test.json#376": hmac,
	"json_web_signature_test.json#377": hmac,
	"json_web_key_test.json#2":         hmac,
	"json_web_key_test.json#13":        hmac,
	"json_web_key_test.json#14":        hmac,
	"json_web_key_test.json#15":        hmac,
	// HS256 with a '?' inserted into a segment: refused twice over; strict
	// base64url refuses any character outside the alphabet (lenient decoders
	// that skip it are how token smuggling starts).
	"json_web_signature_test.json#372": strictB64,
	"json_web_signature_test.json#373": strictB64,
	// RFC 7520 figure 20 signs PS384 with a JWK that pins "alg": "PS256"; a
	// key's alg restricts it (RFC 7517 4.4) and we honour that.
	"json_web_signature_test.json#346": "key pins alg PS256, token says PS384",
	"json_web_signature_test.json#350": "key pins alg PS256, token says PS384",
	// RFC 7520 figure 27: the vector's P-521 key says "alg": "ES521" (no such
	// algorithm); a key whose alg does not fit its curve is skipped, so the
	// kid is unknown.
	"json_web_signature_test.json#347": "P-521 key with alg ES521 is skipped as unusable",
	"json_web_signature_test.json#351": "P-521 key with alg ES521 is skipped as unusable",
}

const (
	hmac      = "HMAC refused: symmetric keys are never used to verify tokens"
	strictB64 = "strict base64url: a character outside the alphabet is refused"
)

func loadKeySource(t *testing.T, raw json.RawMessage) mapKeys {
	t.Helper()
	if len(raw) == 0 {
		return mapKeys{}
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		t.Fatal(err)
	}
	set := raw
	if _, ok := probe["keys"]; !ok {
		set, _ = json.Marshal(map[string]any{"keys": []json.RawMessage{raw}})
	}
	res, err := keys.ParseJWKS(set)
	if err != nil {
		t.Fatal(err)
	}
	m := mapKeys{}
	for _, k := range res.Keys {
		m[k.KID] = k
	}
	return m
}

type mapKeys map[string]keys.Key

func (m mapKeys) Lookup(_ context.Context, kid string) (keys.Key, error) {
	if k, ok := m[kid]; ok {
		return k, nil
	}
	return keys.Key{}, keys.ErrUnknownKID
}

var allAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

func TestWycheproof(t *testing.T) {
	if _, err := os.Stat(wycheproofDir); errors.Is(err, os.ErrNotExist) {
		t.Skipf("Wycheproof vectors not found at %s (expected ../shared/testdata/wycheproof beside the repository); skipping", wycheproofDir)
	}
	seen := map[string]bool{}
	var unexplained []string
	for _, name := range []string{"json_web_signature_test.json", "json_web_key_test.json"} {
		raw, err := os.ReadFile(filepath.Join(wycheproofDir, name))
		if err != nil {
			t.Fatal(err)
		}
		var f wpFile
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatal(err)
		}
		for _, g := range f.TestGroups {
			ks := loadKeySource(t, g.Public)
			if len(g.Public) == 0 {
				ks = loadKeySource(t, g.Private)
			}
			for _, tc := range g.Tests {
				id := fmt.Sprintf("%s#%d", name, tc.TcID)
				_, err := verify.CheckSignature(context.Background(), tc.JWS, allAlgs, ks)
				accepted := err == nil
				switch {
				case tc.Result == "invalid" && accepted:
					t.Errorf("%s (%s, group %s): accepted an invalid token", id, tc.Comment, g.Comment)
				case tc.Result == "valid" && !accepted:
					seen[id] = true
					if _, ok := divergences[id]; !ok {
						unexplained = append(unexplained, fmt.Sprintf("%s (%s, group %s): rejected: %v", id, tc.Comment, g.Comment, err))
					}
				}
			}
		}
	}
	sort.Strings(unexplained)
	for _, u := range unexplained {
		t.Errorf("unexplained divergence: %s", u)
	}
	for id := range divergences {
		if !seen[id] {
			t.Errorf("divergence %s is listed but no longer happens; remove it", id)
		}
	}
}
