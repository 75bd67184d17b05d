package logbuf_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/sidecar/logbuf"
)

// sink records each write it receives.
type sink struct {
	mu     sync.Mutex
	writes []string
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, string(p))
	return len(p), nil
}

func (s *sink) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.writes...)
}

// Buffered lines go out together within the delay, in order; an urgent
// line goes out at once after them; Flush empties the buffer.
func TestWriterBatchesInOrder(t *testing.T) {
	out := &sink{}
	w := logbuf.New(out, 50*time.Millisecond)
	_, _ = w.Write([]byte("a\n"))
	_, _ = w.Write([]byte("b\n"))
	if got := out.all(); len(got) != 0 {
		t.Fatalf("written before the delay: %q", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(out.all()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("buffered lines never written")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := out.all(); len(got) != 1 || got[0] != "a\nb\n" {
		t.Fatalf("writes %q, want one of both lines", got)
	}
	_, _ = w.Write([]byte("c\n"))
	_, _ = w.Urgent().Write([]byte("error\n"))
	if got := out.all(); len(got) != 2 || got[1] != "c\nerror\n" {
		t.Fatalf("urgent line: writes %q", got)
	}
	_, _ = w.Write([]byte("d\n"))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := out.all(); len(got) != 3 || got[2] != "d\n" {
		t.Fatalf("after Flush: writes %q", got)
	}
}

// A full buffer is written at once, not after the delay.
func TestWriterFlushesWhenFull(t *testing.T) {
	var out bytes.Buffer
	w := logbuf.New(&out, time.Hour)
	line := strings.Repeat("x", 1023) + "\n"
	for range 40 {
		_, _ = w.Write([]byte(line))
	}
	if out.Len() < 32<<10 {
		t.Fatalf("%d bytes written after 40 KiB buffered with an hour's delay", out.Len())
	}
	_ = w.Flush()
	if out.Len() != 40*len(line) {
		t.Fatalf("%d bytes in all, want %d", out.Len(), 40*len(line))
	}
}
