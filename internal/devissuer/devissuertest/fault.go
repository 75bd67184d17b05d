package devissuertest

import (
	"crypto/tls"
	"net"
	"net/http"
	"strings"
)

// Fault is a failure of both the discovery and the key set endpoints.
type Fault int

// The faults an identity provider shows in production.
const (
	FaultNone Fault = iota
	// Fault500 answers 500 Internal Server Error.
	Fault500
	// FaultHang answers nothing until the client gives up (or the fault changes).
	FaultHang
	// FaultHuge answers 200 with a 10 MB body.
	FaultHuge
	// FaultGarbage answers 200 with bytes that are not JSON.
	FaultGarbage
	// FaultReset resets the connection (TCP RST) once the request is read.
	FaultReset
	// FaultGone closes the listener: connections are refused.
	FaultGone
)

var faultNames = map[Fault]string{FaultNone: "none", Fault500: "HTTP 500", FaultHang: "hang past the timeout",
	FaultHuge: "10 MB body", FaultGarbage: "garbage body", FaultReset: "connection reset", FaultGone: "endpoint gone (connection refused)"}

func (f Fault) String() string { return faultNames[f] }

// Faults lists every fault but FaultNone.
var Faults = []Fault{Fault500, FaultHang, FaultHuge, FaultGarbage, FaultReset, FaultGone}

// HugeBody is FaultHuge's body size.
const HugeBody = 10 << 20

// SetFault makes discovery and the key set fail as f says; FaultNone
// restores them. FaultGone closes the listener and a later fault opens it
// again on the same address.
func (i *Issuer) SetFault(f Fault) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if f == i.fault {
		return
	}
	close(i.faultChanged)
	i.faultChanged = make(chan struct{})
	if f == FaultGone {
		_ = i.Server.Listener.Close()
		i.Server.CloseClientConnections()
	} else if i.fault == FaultGone {
		i.relisten()
	}
	i.fault = f
}

// relisten serves again on the address FaultGone closed.
func (i *Issuer) relisten() {
	ln, err := net.Listen("tcp", i.Server.Listener.Addr().String())
	if err != nil {
		panic("devissuertest: listening again: " + err.Error())
	}
	if i.CA != nil {
		ln = tls.NewListener(ln, i.Server.TLS)
	}
	i.Server.Listener = ln
	go func() { _ = i.Server.Config.Serve(ln) }()
}

// serveFault answers r as fault says; false when there is no fault.
func serveFault(w http.ResponseWriter, r *http.Request, fault Fault, changed <-chan struct{}) bool {
	switch fault {
	case Fault500:
		http.Error(w, "injected failure", http.StatusInternalServerError)
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-changed:
		}
	case FaultHuge:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys":[`))
		blanks := []byte(strings.Repeat(" ", 64<<10))
		for n := 0; n < HugeBody; n += len(blanks) {
			if _, err := w.Write(blanks); err != nil {
				break
			}
		}
	case FaultGarbage:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("\x00\xff<html>not a key set"))
	case FaultReset:
		reset(w)
	default:
		return false
	}
	return true
}

// reset closes the request's connection with SO_LINGER 0: the client sees RST.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}
