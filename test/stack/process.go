package stack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// process is a child process whose output is prefixed and collected.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	err  error
}

func (s *Stack) startProcess(name, bin string, args ...string) (*process, error) {
	cmd := exec.Command(bin, args...)
	out := &prefixWriter{prefix: "[" + name + "] ", w: s.opts.ProcessLog}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so Ctrl-C on the demo reaches it only through Stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.done)
	}()
	s.procs = append(s.procs, p)
	return p, nil
}

// alive returns an error once the process has exited.
func (p *process) alive() error {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return fmt.Errorf("%s exited: %v (its log is above)", p.name, p.err)
	default:
		return nil
	}
}

// stop sends SIGTERM, waits for a graceful exit, then kills.
func (p *process) stop() {
	if p.alive() != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitReady waits for the process's readiness URL.
func (p *process) waitReady(ctx context.Context, url string, timeout time.Duration) error {
	return waitHTTP(ctx, url, timeout, p.alive)
}

// prefixWriter prefixes each line written through it.
type prefixWriter struct {
	mu     sync.Mutex
	prefix string
	w      io.Writer
	buf    []byte
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		fmt.Fprintf(w.w, "%s%s\n", w.prefix, w.buf[:i])
		w.buf = w.buf[i+1:]
	}
}
