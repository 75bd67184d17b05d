package conns_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/sidecar/conns"
)

type counts struct{ open, waited, closedIdle atomic.Int64 }

func (c *counts) Connections(n int) { c.open.Store(int64(n)) }
func (c *counts) Waited()           { c.waited.Add(1) }
func (c *counts) ClosedIdle()       { c.closedIdle.Add(1) }

// serve runs an http.Server behind a Listener capped at max.
func serve(t *testing.T, max int) (string, *counts) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &counts{}
	l := conns.Limit(inner, max, c)
	srv := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
		ConnState: l.ConnState,
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return inner.Addr().String(), c
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// get sends a keep-alive request on c and reads the answer, within d.
func get(c net.Conn, br *bufio.Reader, d time.Duration) error {
	_ = c.SetDeadline(time.Now().Add(d))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return err
	}
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, res.Body)
	return err
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(what)
		}
	}
}

// TestCapHoldsBusyConnections: connections in the middle of a request
// (here: headers never finished) fill the cap; the next one waits for a
// slot and is served once one frees.
func TestCapHoldsBusyConnections(t *testing.T) {
	addr, c := serve(t, 2)
	busy := []net.Conn{dial(t, addr), dial(t, addr)}
	for _, b := range busy {
		_, _ = io.WriteString(b, "GET / HTTP/1.1\r\n")
	}
	eventually(t, "two connections not counted open", func() bool { return c.open.Load() == 2 })
	third := dial(t, addr) // the kernel accepts it; the server does not yet
	br := bufio.NewReader(third)
	if err := get(third, br, 200*time.Millisecond); err == nil {
		t.Fatal("a third connection was served past the cap of 2")
	}
	if c.waited.Load() != 1 || c.closedIdle.Load() != 0 {
		t.Fatalf("waited %d, closed idle %d", c.waited.Load(), c.closedIdle.Load())
	}
	_ = busy[0].Close()
	_ = third.SetDeadline(time.Now().Add(3 * time.Second))
	res, err := http.ReadResponse(br, nil) // its request was sent above
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("the waiting connection was not served once a slot freed: %v %v", res, err)
	}
	if c.open.Load() != 2 {
		t.Fatalf("open %d", c.open.Load())
	}
}

// TestCapClosesIdleKeepAlive: at the cap, a keep-alive connection between
// requests gives its slot to the new one, so idle pools cannot lock out
// new clients.
func TestCapClosesIdleKeepAlive(t *testing.T) {
	addr, c := serve(t, 1)
	idle := dial(t, addr)
	ibr := bufio.NewReader(idle)
	if err := get(idle, ibr, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	fresh := dial(t, addr)
	if err := get(fresh, bufio.NewReader(fresh), 3*time.Second); err != nil {
		t.Fatalf("new connection not served while the only slot was an idle keep-alive: %v", err)
	}
	if c.waited.Load() != 1 || c.closedIdle.Load() != 1 {
		t.Fatalf("waited %d, closed idle %d", c.waited.Load(), c.closedIdle.Load())
	}
	_ = idle.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := ibr.ReadByte(); err != io.EOF {
		t.Fatalf("the idle connection was not closed: %v", err)
	}
}

// TestCloseUnblocksAccept: shutting down must not hang on a waiting Accept.
func TestCloseUnblocksAccept(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := conns.Limit(inner, 1, nil)
	dial(t, inner.Addr().String())
	dial(t, inner.Addr().String()) // accepted from the kernel, then waits for the slot
	first, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	errc := make(chan error, 1)
	go func() { _, err := l.Accept(); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	_ = l.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("Accept succeeded past the cap")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Accept still waiting after Close")
	}
}
