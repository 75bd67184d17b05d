package browser

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"

	"github.com/jwtgate/jwtgate/internal/colorsapp"
	"github.com/jwtgate/jwtgate/internal/devissuer"
	"github.com/jwtgate/jwtgate/internal/spapage"
)

// chromium returns Debian's Chromium, installing it when missing (as root).
// No skip: a machine that cannot run the browser test fails it, saying why.
func chromium(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(repoRoot, "hack", "install-chromium.sh"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("headless Chromium is required for the browser test and could not be installed: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// hits counts the requests that reached the app, by path.
type hits struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *hits) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.n[r.URL.Path]++
		h.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (h *hits) get(path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[path]
}

// serve runs h on a loopback listener and returns its port.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }() // ends with ErrServerClosed at cleanup
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func TestSinglePageAppThroughSidecar(t *testing.T) {
	chromePath := chromium(t)

	iss, err := devissuer.Start("127.0.0.1:0", devissuer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iss.Close() })
	appHits := &hits{n: map[string]int{}}
	appPort := serve(t, appHits.wrap(colorsapp.Handler()))

	// The page is served twice: on the allowed origin (localhost, as the
	// demo's http://localhost:3000) and on a different one (127.0.0.1).
	// Their ports are fixed before the front starts, so its CORS policy can
	// name the allowed origin; the page needs the front's URL, so the
	// handler is filled in after.
	var pageHandler http.Handler
	var ready sync.WaitGroup
	ready.Add(1)
	lazy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ready.Wait(); pageHandler.ServeHTTP(w, r) })
	allowedPort, otherPort := serve(t, lazy), serve(t, lazy)
	allowedOrigin := "http://localhost:" + allowedPort
	otherOrigin := "http://127.0.0.1:" + otherPort

	apiURL := startFront(t, colorsConfig(iss.URL(), iss.JWKSURL(), "http://127.0.0.1:"+appPort, allowedOrigin))
	pageHandler, err = spapage.Handler(spapage.Config{APIURL: apiURL, IssuerURL: iss.URL()})
	if err != nil {
		t.Fatal(err)
	}
	ready.Done()

	ctx, cancel := browserContext(t, chromePath)
	defer cancel()
	var consoleMu sync.Mutex
	var console []string
	// The browser's own log says why it refused a call ("blocked by CORS policy").
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*cdplog.EventEntryAdded); ok {
			consoleMu.Lock()
			console = append(console, e.Entry.Text)
			consoleMu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}

	// Allowed origin: both calls show their data.
	if err := chromedp.Do(ctx, chromedp.Navigate(allowedOrigin+"/")); err != nil {
		t.Fatal(err)
	}
	state, text := clickAndRead(t, ctx, "#list-colors", "#colors-result")
	if state != "ok" || !strings.HasPrefix(text, "200") || !strings.Contains(text, `"violet"`) {
		t.Errorf("list colors from %s: state %q, text:\n%s", allowedOrigin, state, text)
	}
	state, text = clickAndRead(t, ctx, "#my-profile", "#profile-result")
	for _, want := range []string{`"sub": "alice"`, `"scope": "read:colors"`, `"X-User-Id": "alice"`, `"iss": "` + iss.URL() + `"`} {
		if state != "ok" || !strings.Contains(text, want) {
			t.Errorf("my profile from %s: state %q, want it to show %s; text:\n%s", allowedOrigin, state, want, text)
		}
	}
	screenshot(t, ctx, "browser-allowed-origin.png")
	if appHits.get("/my/profile") != 1 {
		t.Fatalf("the app saw %d /my/profile calls, want 1", appHits.get("/my/profile"))
	}

	// Another origin: the browser blocks both calls. The Bearer call needs a
	// preflight, which the front refuses, so it never reaches the app.
	if err := chromedp.Do(ctx, chromedp.Navigate(otherOrigin+"/")); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]string{{"#list-colors", "#colors-result"}, {"#my-profile", "#profile-result"}} {
		state, text := clickAndRead(t, ctx, c[0], c[1])
		if state != "blocked" {
			t.Errorf("%s from disallowed origin %s: state %q, want blocked; text:\n%s", c[0], otherOrigin, state, text)
		}
	}
	screenshot(t, ctx, "browser-disallowed-origin.png")
	if n := appHits.get("/my/profile"); n != 1 {
		t.Errorf("a /my/profile call from a disallowed origin reached the app (%d calls)", n)
	}
	consoleMu.Lock()
	defer consoleMu.Unlock()
	var corsErrors int
	for _, line := range console {
		if strings.Contains(line, "blocked by CORS policy") && strings.Contains(line, otherOrigin) {
			corsErrors++
		}
	}
	if corsErrors < 2 {
		t.Errorf("want the browser to report 2 CORS refusals for %s, console:\n%s", otherOrigin, strings.Join(console, "\n"))
	}
}

func browserContext(t *testing.T, chromePath string) (context.Context, context.CancelFunc) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromePath),
		chromedp.Headless,
		chromedp.NoSandbox, // root in a container: Chromium's sandbox needs user namespaces
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	return ctx, func() { cancelTimeout(); cancelCtx(); cancelAlloc() }
}

// clickAndRead clicks a button and waits for the page to settle the call's
// outcome into the result element (data-state ok, error or blocked).
func clickAndRead(t *testing.T, ctx context.Context, button, result string) (state, text string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(button)),
		chromedp.Query(chromedp.CSS(result+`[data-state]:not([data-state="pending"])`)),
	)
	if err != nil {
		t.Fatalf("clicking %s: %v", button, err)
	}
	attr, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(result), "data-state"))
	if err != nil {
		t.Fatal(err)
	}
	text, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(result)))
	if err != nil {
		t.Fatal(err)
	}
	return attr.Value, text
}

// screenshot keeps a picture of the page under artifacts/ (gitignored).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(repoRoot, "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	t.Logf("screenshot: %s", abs)
}
