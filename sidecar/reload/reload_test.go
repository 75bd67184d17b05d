package reload_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/reload"
)

// colorsRaw is the sample configuration config's own tests use, so both
// packages exercise the same document.
func colorsRaw(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile("../config/testdata/colors.json")
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// variant returns the sample configuration with f applied, re-encoded.
func variant(t *testing.T, f func(c *config.Config)) []byte {
	t.Helper()
	snap, err := config.Parse(colorsRaw(t))
	if err != nil {
		t.Fatal(err)
	}
	f(snap.Config)
	raw, err := json.Marshal(snap.Config)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// generation returns a valid sample that differs from colorsRaw only in
// Source.Generation.
func generation(t *testing.T, g int64) []byte {
	return variant(t, func(c *config.Config) { c.Source.Generation = g })
}

type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) observe(source, result string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[source+"/"+result]++
}

func (c *counter) get(k string) int { c.mu.Lock(); defer c.mu.Unlock(); return c.n[k] }

func newReloader(held *atomic.Pointer[config.Snapshot], cnt *counter) *reload.Reloader {
	return &reload.Reloader{
		Apply:   func(s *config.Snapshot) error { held.Store(s); return nil },
		Observe: cnt.observe,
		Log:     slog.New(slog.DiscardHandler),
	}
}

func TestReloaderRefusesInvalidAndKeepsLastGood(t *testing.T) {
	var held atomic.Pointer[config.Snapshot]
	cnt := &counter{}
	r := newReloader(&held, cnt)
	good := colorsRaw(t)
	if err := r.Offer(reload.SourceFile, good); err != nil {
		t.Fatal(err)
	}
	bad := variant(t, func(c *config.Config) { c.Rules[2].Authorizer = "nobody" })
	if err := r.Offer(reload.SourceFile, bad); err == nil {
		t.Fatal("invalid config applied")
	}
	if held.Load().Hash != config.Hash(good) || r.Current() != config.Hash(good) {
		t.Fatal("last good configuration was replaced")
	}
	_ = r.Offer(reload.SourceFile, good)
	if cnt.get("file/applied") != 1 || cnt.get("file/invalid") != 1 || cnt.get("file/unchanged") != 1 {
		t.Fatalf("counts %v", cnt.n)
	}
}

// A configuration newer than this sidecar reads (an operator upgraded before
// its pods) is refused, counted by reason and logged with the versions; the
// last good one stays in force and /configz can tell what was refused.
func TestReloaderRefusesNewerVersion(t *testing.T) {
	var held atomic.Pointer[config.Snapshot]
	cnt := &counter{}
	var logs bytes.Buffer
	r := newReloader(&held, cnt)
	r.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	good := colorsRaw(t)
	if err := r.Offer(reload.SourceFile, good); err != nil {
		t.Fatal(err)
	}
	newer := variant(t, func(c *config.Config) { c.Version = config.MaxVersion + 1 })
	logs.Reset()
	err := r.Offer(reload.SourceFile, newer)
	var ve *config.VersionError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want a *config.VersionError", err)
	}
	if held.Load().Hash != config.Hash(good) || r.Current() != config.Hash(good) {
		t.Fatal("last good configuration was replaced")
	}
	want := reload.Refusal{Hash: config.Hash(newer), Source: reload.SourceFile, Result: reload.ResultRefusedVersion, Error: err.Error()}
	if got := r.Refused(); got != want {
		t.Fatalf("Refused() = %+v, want %+v", got, want)
	}
	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("want one log line, got %q", logs.String())
	}
	for k, v := range map[string]any{"level": "ERROR", "result": "refused_version", "version": float64(config.MaxVersion + 1),
		"supported": fmt.Sprintf("1..%d", config.MaxVersion), "hash": config.Hash(newer), "inForce": config.Hash(good)} {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v", k, line[k], v)
		}
	}
	// The file poll offers the same bytes again: counted, not logged again.
	logs.Reset()
	_ = r.Offer(reload.SourceFile, newer)
	if cnt.get("file/refused_version") != 2 || logs.Len() != 0 {
		t.Fatalf("counts %v, log %q", cnt.n, logs.String())
	}
	// A configuration this sidecar reads clears the refusal.
	if err := r.Offer(reload.SourceFile, generation(t, 5)); err != nil || r.Refused() != (reload.Refusal{}) {
		t.Fatalf("offer %v, refused %+v", err, r.Refused())
	}
}

func TestRefusalResult(t *testing.T) {
	for _, tc := range []struct {
		raw  []byte
		want string
	}{
		{variant(t, func(c *config.Config) { c.Version = config.MaxVersion + 1 }), reload.ResultRefusedVersion},
		{bytes.Replace(colorsRaw(t), []byte(`"public": true`), []byte(`"public": true, "mtls": true`), 1), reload.ResultRefusedField},
		{variant(t, func(c *config.Config) { c.Rules = nil }), reload.ResultInvalid},
		{[]byte("{"), reload.ResultInvalid},
	} {
		_, err := config.Parse(tc.raw)
		if got := reload.RefusalResult(err); got != tc.want {
			t.Errorf("%v: %s, want %s", err, got, tc.want)
		}
	}
}

func TestReloaderApplyErrorRefuses(t *testing.T) {
	r := &reload.Reloader{Apply: func(*config.Snapshot) error { return errors.New("compile failed") }, Log: slog.New(slog.DiscardHandler)}
	if err := r.Offer(reload.SourceAPI, colorsRaw(t)); err == nil || r.Current() != "" {
		t.Fatal("refused apply still recorded")
	}
}

func TestReloaderFileDeferredWhileAPILive(t *testing.T) {
	var held atomic.Pointer[config.Snapshot]
	cnt := &counter{}
	r := newReloader(&held, cnt)
	fromAPI := generation(t, 5)
	_ = r.Offer(reload.SourceAPI, fromAPI)
	r.SetAPILive(true)
	stale := colorsRaw(t)
	if err := r.Offer(reload.SourceFile, stale); !errors.Is(err, reload.ErrDeferred) {
		t.Fatalf("got %v", err)
	}
	if held.Load().Hash != config.Hash(fromAPI) {
		t.Fatal("stale file overrode the API's configuration")
	}
	r.SetAPILive(false) // API gone: the file is the fallback
	if held.Load().Hash != config.Hash(stale) {
		t.Fatal("file fallback not applied when the API source went away")
	}
}

// TestWatchFileSeesSymlinkSwap reproduces kubelet's ConfigMap update: data
// lives in a timestamped directory, "..data" is a symlink to it, and
// config.json is a symlink through "..data"; an update swaps "..data".
func TestWatchFileSeesSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	write := func(ts string, raw []byte) {
		d := filepath.Join(dir, ts)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "config.json"), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(ts, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	write("..2026_01_01", colorsRaw(t))
	if err := os.Symlink("..data/config.json", filepath.Join(dir, "config.json")); err != nil {
		t.Fatal(err)
	}
	var held atomic.Pointer[config.Snapshot]
	cnt := &counter{}
	r := newReloader(&held, cnt)
	path := filepath.Join(dir, "config.json")
	snap, err := config.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_ = r.Offer(reload.SourceFile, snap.Raw)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = reload.WatchFile(ctx, path, time.Hour, r, slog.New(slog.DiscardHandler)) }() // returns when ctx ends
	time.Sleep(100 * time.Millisecond)

	next := generation(t, 5)
	write("..2026_01_02", next)
	waitUntil(t, func() bool { return held.Load().Hash == config.Hash(next) })

	bad := variant(t, func(c *config.Config) { c.Rules[2].Authorizer = "nobody" })
	write("..2026_01_03", bad)
	waitUntil(t, func() bool { return cnt.get("file/invalid") == 1 })
	if held.Load().Hash != config.Hash(next) {
		t.Fatal("invalid file replaced the configuration")
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
