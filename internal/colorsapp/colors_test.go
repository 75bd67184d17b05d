package colorsapp_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/jwtgate/jwtgate/internal/colorsapp"
)

func do(t *testing.T, path string, hdr map[string]string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	colorsapp.Handler().ServeHTTP(rec, req)
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil && path != "/healthz" {
		t.Fatalf("%s: body %q: %v", path, rec.Body, err)
	}
	return rec, body
}

func encodeClaims(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestPublicColors(t *testing.T) {
	rec, body := do(t, "/colors", nil)
	if rec.Code != 200 || len(body["colors"].([]any)) != len(colorsapp.Palette) {
		t.Fatalf("%d %v", rec.Code, body)
	}
}

func TestProfileEchoesWhatTheSidecarSent(t *testing.T) {
	claims := map[string]any{"sub": "alice", "scope": "read:colors", "http://sandrino/roles": []any{"admin"}}
	rec, body := do(t, "/my/profile", map[string]string{
		colorsapp.ClaimsHeader: encodeClaims(claims),
		"X-User-Id":            "alice",
		"X-User-Roles":         `["admin"]`,
		"Authorization":        "Bearer x.y.z",
		"X-Other":              "not echoed",
	})
	if rec.Code != 200 {
		t.Fatalf("%d %v", rec.Code, body)
	}
	if !reflect.DeepEqual(body["claims"], claims) {
		t.Errorf("claims %v, want %v", body["claims"], claims)
	}
	want := map[string]any{"X-User-Id": "alice", "X-User-Roles": `["admin"]`}
	if !reflect.DeepEqual(body["headers"], want) {
		t.Errorf("headers %v, want %v", body["headers"], want)
	}
	if body["tokenForwarded"] != true {
		t.Errorf("tokenForwarded %v", body["tokenForwarded"])
	}
}

func TestMyColorsIsStablePerUser(t *testing.T) {
	hdr := map[string]string{colorsapp.ClaimsHeader: encodeClaims(map[string]any{"sub": "alice"})}
	_, a := do(t, "/my/colors", hdr)
	_, b := do(t, "/my/colors", hdr)
	if a["user"] != "alice" || !reflect.DeepEqual(a, b) || len(a["colors"].([]any)) != 3 {
		t.Fatalf("%v / %v", a, b)
	}
	if reflect.DeepEqual(colorsapp.Favourites("alice"), colorsapp.Favourites("bob")) &&
		reflect.DeepEqual(colorsapp.Favourites("alice"), colorsapp.Favourites("carol")) {
		t.Fatal("every user gets the same favourites")
	}
}

// The app trusts only what the sidecar vouches for: no claims, no answer.
func TestMyRoutesRefuseRequestsWithoutClaims(t *testing.T) {
	for _, tc := range []struct {
		hdr  map[string]string
		code int
		want string
	}{
		{nil, 401, "X-Jwtgate-Claims missing"},
		{map[string]string{"X-User-Id": "mallory"}, 401, "must sit behind the jwtgate sidecar"},
		{map[string]string{colorsapp.ClaimsHeader: "!!!"}, 400, "X-Jwtgate-Claims is not base64url"},
		{map[string]string{colorsapp.ClaimsHeader: base64.RawURLEncoding.EncodeToString([]byte("[1]"))}, 400, "is not a JSON object"},
	} {
		for _, path := range []string{"/my/profile", "/my/colors"} {
			rec, body := do(t, path, tc.hdr)
			if rec.Code != tc.code || !strings.Contains(body["message"].(string), tc.want) {
				t.Errorf("%s %v: %d %v, want %d with %q", path, tc.hdr, rec.Code, body, tc.code, tc.want)
			}
		}
	}
}

func TestPaddedClaimsAccepted(t *testing.T) {
	b, _ := json.Marshal(map[string]any{"sub": "al"})
	if _, err := colorsapp.DecodeClaims(base64.URLEncoding.EncodeToString(b)); err != nil {
		t.Fatal(err)
	}
}
