package proxy

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/keys"
)

type panicKeys struct{}

func (panicKeys) Lookup(context.Context, string) (keys.Key, error) {
	panic("hostile input reached a bug")
}

type countingApp struct{ calls int }

func (a *countingApp) RoundTrip(*http.Request) (*http.Response, error) {
	a.calls++
	return nil, context.Canceled
}

// TestPanicAnswers500AndNeverForwards: a bug reached while deciding (here
// in the key lookup) must not let the request through, and the client gets
// a clear 500 rather than a dropped connection.
func TestPanicAnswers500AndNeverForwards(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	app := &countingApp{}
	h := New(Options{Keys: keys.NewRegistry(ctx, keys.NewHTTPClient(0), keys.Options{}, nil, log), Log: log, Transport: app})
	snap, err := config.Parse([]byte(`{"version":1,"upstream":"http://127.0.0.1:1",
		"authorizers":[{"name":"a","issuer":"http://127.0.0.1:1","audiences":["x"],"algorithms":["RS256"],
			"identitySource":{"in":"header","name":"Authorization"},"forwardToken":true}],
		"rules":[{"path":"/p","authorizer":"a"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Apply(snap); err != nil {
		t.Fatal(err)
	}
	h.state.Load().rules[0].auths[0].policy.Keys = panicKeys{}
	enc := base64.RawURLEncoding.EncodeToString
	tok := enc([]byte(`{"alg":"RS256","kid":"k"}`)) + "." + enc([]byte(`{}`)) + "." + enc([]byte("sig"))
	req := httptest.NewRequest("GET", "/p", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 500 || w.Body.String() != `{"message":"Internal Server Error"}`+"\n" || app.calls != 0 {
		t.Fatalf("status %d body %q, app called %d times", w.Code, w.Body, app.calls)
	}
}
