package fault

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/jwtgate/jwtgate/internal/colorsapp"
	"github.com/jwtgate/jwtgate/test/stack"
)

// SIGTERM under load: /readyz turns 503 first while requests are still
// served, requests in flight (one takes 2s at the app) complete, and the
// process exits well within the 30s grace period. A request is cut when it
// was accepted and then failed; after the listener closes, new connections
// are refused, which a load balancer that saw readiness fall never sends.
func TestGracefulShutdown(t *testing.T) {
	s := stackFor(t)
	ctx := context.Background()
	slowApp := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Slow") != "" {
			time.Sleep(2 * time.Second)
		}
		colorsapp.Handler().ServeHTTP(w, r)
	}))
	var pod corev1.Pod
	if err := s.Client.Get(ctx, types.NamespacedName{Namespace: stack.AppNamespace, Name: stack.PodName}, &pod); err != nil {
		t.Fatal(err)
	}
	main := s.Sidecar
	defer func() { s.Sidecar = main }()
	if err := s.StartSidecar(ctx, &pod, "--upstream="+slowApp, "--shutdown-delay=1s"); err != nil {
		t.Fatal(err)
	}
	sc := s.Sidecar

	var ok, cut, refused atomic.Int64
	var firstCut atomic.Value
	// When the listener closes (SIGTERM + --shutdown-delay), as UnixNano; 0
	// before SIGTERM. A new connection that fails from then on was at most
	// in the kernel's backlog of the closed listener, never accepted: no
	// request of it reached the sidecar, as a connect that is refused.
	var listenerCloses atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{}} // keep-alive connections of its own
			for {
				select {
				case <-stop:
					return
				default:
				}
				reused := false
				req, _ := http.NewRequest(http.MethodGet, sc.URL+"/colors", nil)
				req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
					GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
				}))
				resp, err := client.Do(req)
				closes := listenerCloses.Load()
				switch {
				case err == nil:
					resp.Body.Close()
					if resp.StatusCode == 200 {
						ok.Add(1)
					} else {
						cut.Add(1)
						firstCut.CompareAndSwap(nil, resp.Status)
					}
				case refusedAtConnect(err), !reused && closes != 0 && time.Now().UnixNano() >= closes-int64(50*time.Millisecond):
					refused.Add(1)
					time.Sleep(20 * time.Millisecond)
				default:
					cut.Add(1)
					firstCut.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	slow := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, sc.URL+"/colors", nil)
		req.Header.Set("X-Slow", "1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			slow <- 0
			return
		}
		resp.Body.Close()
		slow <- resp.StatusCode
	}()
	time.Sleep(500 * time.Millisecond) // load running, the slow request in flight

	sigterm := time.Now()
	listenerCloses.Store(sigterm.Add(time.Second).UnixNano())
	var notReady atomic.Int64 // ns after SIGTERM when /readyz first answered 503
	go func() {
		for time.Since(sigterm) < 10*time.Second {
			if code, _ := get(sc.AdminURL + "/readyz"); code == http.StatusServiceUnavailable {
				notReady.CompareAndSwap(0, int64(time.Since(sigterm)))
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	okAtTerm := ok.Load()
	exit, err := sc.Terminate(30 * time.Second)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("exit after SIGTERM: %v (after %s)", err, exit)
	}
	slowCode := <-slow
	servedAfter := ok.Load() - okAtTerm
	t.Logf("injected: SIGTERM under load (4 keep-alive clients, one 2s request in flight, --shutdown-delay=1s); /readyz 503 after %s; "+
		"%d requests answered 200 (%d after SIGTERM), slow request %d, %d refused at connect after the listener closed, %d cut; exited %s after SIGTERM",
		time.Duration(notReady.Load()).Round(time.Millisecond), ok.Load(), servedAfter, slowCode, refused.Load(), cut.Load(), exit.Round(time.Millisecond))
	if notReady.Load() == 0 {
		t.Error("/readyz never answered 503 after SIGTERM")
	}
	if servedAfter == 0 {
		t.Error("no request was served after SIGTERM: readiness must fall before the listener closes")
	}
	if slowCode != 200 {
		t.Errorf("the request in flight at SIGTERM got %d, want 200", slowCode)
	}
	if cut.Load() > 0 {
		t.Errorf("%d requests cut; first: %v", cut.Load(), firstCut.Load())
	}
	if exit > 30*time.Second {
		t.Errorf("exit took %s, past the 30s grace period", exit)
	}
	if l := lines(`"msg":"shutting down: not ready, still serving"`); len(l) == 0 && !strings.Contains(sidecarLog.String(), "shutting down") {
		t.Error("no shutdown log line")
	}
}

// refusedAtConnect: the connection was never made, so no request was sent.
// Besides ECONNREFUSED, a handshake still in the closed listener's backlog
// is reset by the kernel; both fail inside dial.
func refusedAtConnect(err error) bool {
	var op *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &op) && op.Op == "dial"
}
