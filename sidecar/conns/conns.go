// Package conns caps the sidecar's client connections. Each open
// connection costs a goroutine, buffers and a socket; without a cap, enough
// of them exhaust the container's memory limit and the pod is OOM-killed.
package conns

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// Observer records the listener's state (metrics).
type Observer interface {
	// Connections reports the number of open connections.
	Connections(open int)
	// Waited counts a new connection that found every slot taken.
	Waited()
	// ClosedIdle counts a keep-alive connection closed to make room.
	ClosedIdle()
}

// Listener serves at most max connections at a time. A connection that
// arrives at the cap takes the slot of a keep-alive connection sitting
// between requests, which is closed as an idle timeout would close it (its
// client reconnects; a request it was just sending meets the usual
// keep-alive race); if there is none, it waits for a slot, and the ones
// after it queue in the kernel's backlog.
type Listener struct {
	net.Listener
	obs   Observer
	slots chan struct{}
	done  chan struct{}
	close sync.Once
	open  atomic.Int64

	mu     sync.Mutex
	idle   map[*conn]struct{}
	idleCh chan struct{} // a connection became idle
}

// Limit wraps l. Pass the Listener's ConnState to the http.Server using it,
// so it knows which connections are idle. obs may be nil.
func Limit(l net.Listener, max int, obs Observer) *Listener {
	if obs == nil {
		obs = nop{}
	}
	return &Listener{Listener: l, obs: obs, slots: make(chan struct{}, max), done: make(chan struct{}),
		idle: map[*conn]struct{}{}, idleCh: make(chan struct{}, 1)}
}

// Accept returns the next connection once it has a slot.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if !l.acquire() {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	l.obs.Connections(int(l.open.Add(1)))
	return &conn{Conn: c, l: l}, nil
}

func (l *Listener) acquire() bool {
	select {
	case l.slots <- struct{}{}:
		return true
	default:
	}
	l.obs.Waited()
	for {
		l.closeIdle()
		select {
		case l.slots <- struct{}{}:
			return true
		case <-l.idleCh:
		case <-l.done:
			return false
		}
	}
}

// closeIdle closes one connection that is between requests, freeing its
// slot.
func (l *Listener) closeIdle() {
	l.mu.Lock()
	var victim *conn
	for c := range l.idle {
		victim = c
		delete(l.idle, c)
		break
	}
	l.mu.Unlock()
	if victim != nil {
		l.obs.ClosedIdle()
		_ = victim.Close()
	}
}

// Close stops accepting; open connections stay until they close.
func (l *Listener) Close() error {
	l.close.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// ConnState is the http.Server hook that tells the listener which
// connections are idle keep-alives.
func (l *Listener) ConnState(nc net.Conn, s http.ConnState) {
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	l.mu.Lock()
	if s == http.StateIdle {
		l.idle[c] = struct{}{}
	} else {
		delete(l.idle, c)
	}
	l.mu.Unlock()
	if s == http.StateIdle {
		select {
		case l.idleCh <- struct{}{}:
		default:
		}
	}
}

type conn struct {
	net.Conn
	l    *Listener
	once sync.Once
}

// Close frees the connection's slot once, whoever closes it (the server,
// a hijacking handler, or closeIdle).
func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.idle, c)
		c.l.mu.Unlock()
		c.l.obs.Connections(int(c.l.open.Add(-1)))
		<-c.l.slots
	})
	return err
}

type nop struct{}

func (nop) Connections(int) {}
func (nop) Waited()         {}
func (nop) ClosedIdle()     {}

// CloseWrite lets net/http half-close a connection whose client is still
// sending a body, so that client reads its answer rather than a reset.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
