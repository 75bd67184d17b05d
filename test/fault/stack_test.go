package fault

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	authv1alpha1 "github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/devissuer"
	"github.com/jwtgate/jwtgate/test/stack"
)

var (
	shared     *stack.Stack
	sharedErr  error
	sharedOnce sync.Once
	// sidecarLog holds the stack sidecars' log lines (refusals are asserted on it).
	sidecarLog = &logBuffer{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	os.Exit(code)
}

// stackFor returns the shared stack (control plane, operator re-checking
// keys every second, dev issuer, colors app, the injected sidecar process),
// started by the first test that needs it.
func stackFor(t *testing.T) *stack.Stack {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run the tests with `make test`, which builds the local control plane")
	}
	sharedOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			sharedErr = err
			return
		}
		shared, sharedErr = stack.Start(ctx, stack.Options{Root: root, ProcessLog: sidecarLog,
			OperatorArgs: []string{"--jwks-refresh-interval=1s"}})
		if sharedErr != nil {
			return
		}
		if sharedErr = shared.ApplySamples(ctx); sharedErr != nil {
			return
		}
		pod, err := shared.CreatePod(ctx)
		if err != nil {
			sharedErr = err
			return
		}
		sharedErr = shared.StartSidecar(ctx, pod)
	})
	if sharedErr != nil {
		t.Fatalf("starting the stack: %v\n%s", sharedErr, sidecarLog.String())
	}
	return shared
}

// checker sends requests to the stack's sidecar without pause and checks
// each answer against what it deserves; routes a test edits are left out.
type checker struct {
	checked, wrong, failed atomic.Int64
	mu                     sync.Mutex
	firstWrong             string
	stop                   chan struct{}
	done                   chan struct{}
}

// startChecker checks GET /my/profile with a valid token (200) and without
// one (401), which no test here changes.
func startChecker(t *testing.T, s *stack.Stack) *checker {
	t.Helper()
	tok, err := s.Issuer.Mint(devissuer.MintRequest{Subject: "alice", TTL: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	c := &checker{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for i := 0; ; i++ {
			select {
			case <-c.stop:
				return
			default:
			}
			token, want := tok, 200
			if i%2 == 1 {
				token, want = "", 401
			}
			got := call(s.Sidecar.URL, "/my/profile", token)
			c.checked.Add(1)
			if got != want {
				if got == 0 {
					c.failed.Add(1)
				} else {
					c.wrong.Add(1)
				}
				c.mu.Lock()
				if c.firstWrong == "" {
					c.firstWrong = fmt.Sprintf("GET /my/profile (token %v): %d, want %d", token != "", got, want)
				}
				c.mu.Unlock()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return c
}

// finish stops the checker, fails the test on any wrong or failed answer
// and returns the number of requests checked.
func (c *checker) finish(t *testing.T) int64 {
	t.Helper()
	close(c.stop)
	<-c.done
	if c.wrong.Load()+c.failed.Load() > 0 {
		t.Errorf("of %d requests, %d were decided wrongly and %d failed; first: %s", c.checked.Load(), c.wrong.Load(), c.failed.Load(), c.firstWrong)
	}
	return c.checked.Load()
}

// setColorsPublic edits the ProtectedRoute's GET /colors rule to public or
// protected, with the admin client.
func setColorsPublic(ctx context.Context, s *stack.Stack, public bool) error {
	var route authv1alpha1.ProtectedRoute
	if err := s.Client.Get(ctx, types.NamespacedName{Namespace: stack.AppNamespace, Name: stack.RouteName}, &route); err != nil {
		return err
	}
	for i := range route.Spec.Rules {
		if route.Spec.Rules[i].Path == "/colors" {
			route.Spec.Rules[i].Public = public
			route.Spec.Rules[i].Authorizer = ""
			if !public {
				route.Spec.Rules[i].Authorizer = stack.AuthorizerName
			}
		}
	}
	return s.Client.Update(ctx, &route)
}

// colorsEnforced waits until the sidecar answers GET /colors without a token
// as a public (200) or protected (401) route, and returns how long it took.
func colorsEnforced(t *testing.T, s *stack.Stack, public bool, limit time.Duration) time.Duration {
	t.Helper()
	want := 401
	if public {
		want = 200
	}
	return until(t, limit, fmt.Sprintf("GET /colors answers %d", want), func() bool { return call(s.Sidecar.URL, "/colors", "") == want })
}

// The API server stops for 12 s and restarts on the same port and etcd
// under the running operator and sidecar; then the operator stops and an
// edit is made while it is down. The sidecar enforces its configuration
// throughout, both watches resume without a restart, and the edits are
// reconciled.
func TestControlPlaneFaults(t *testing.T) {
	s := stackFor(t)
	ctx := context.Background()

	t.Run("API server stopped and restarted", func(t *testing.T) {
		c := startChecker(t, s)
		if err := s.StopAPIServer(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(12 * time.Second)
		during := c.checked.Load()
		start := time.Now()
		if err := s.StartAPIServer(); err != nil {
			t.Fatal(err)
		}
		restart := time.Since(start)
		// An edit after the restart reaches the sidecar only if the
		// operator's and the sidecar's watches resumed.
		start = time.Now()
		if err := until2(20*time.Second, func() error { return setColorsPublic(ctx, s, false) }); err != nil {
			t.Fatal(err)
		}
		took := time.Since(start) + colorsEnforced(t, s, false, 60*time.Second)
		checked := c.finish(t)
		t.Logf("injected: kube-apiserver stopped 12s (same port, certificates and etcd on restart, which took %s); checked %d requests "+
			"(%d while it was down); an edit after the restart was enforced by the sidecar %s later, without restarting anything; lost: nothing",
			restart.Round(time.Millisecond), checked, during, took.Round(time.Millisecond))
	})

	t.Run("operator stopped and restarted", func(t *testing.T) {
		c := startChecker(t, s)
		s.StopOperator()
		if err := setColorsPublic(ctx, s, true); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		if got := call(s.Sidecar.URL, "/colors", ""); got != 401 {
			t.Fatalf("GET /colors answered %d with the operator down: the edit cannot have been compiled", got)
		}
		start := time.Now()
		if err := s.StartOperator(ctx); err != nil {
			t.Fatal(err)
		}
		took := colorsEnforced(t, s, true, 60*time.Second)
		checked := c.finish(t)
		t.Logf("injected: operator stopped (SIGTERM) and a route edit made while it was down; checked %d requests; the edit was enforced %s after the operator restarted (%s of it for the restart); lost: nothing",
			checked, (time.Since(start)).Round(time.Millisecond), (time.Since(start) - took).Round(time.Millisecond))
	})
}

// until2 retries f every 200ms until it succeeds or limit passes (API
// calls right after a restart).
func until2(limit time.Duration, f func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// lines returns the sidecar log lines containing all of parts.
func lines(parts ...string) []string {
	var out []string
	for _, l := range strings.Split(sidecarLog.String(), "\n") {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}
