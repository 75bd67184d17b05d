package reload

import (
	"errors"
	"log/slog"
	"sync"

	"github.com/jwtgate/jwtgate/sidecar/config"
)

// Reload sources.
const (
	SourceFile = "file"
	SourceAPI  = "api"
)

// Reload results (metric label values).
const (
	ResultApplied   = "applied"
	ResultInvalid   = "invalid"
	ResultUnchanged = "unchanged"
	ResultDeferred  = "deferred" // file change while the API source is authoritative
)

// ErrDeferred is returned by Offer for a file change ignored because the API
// source is live (the file lags behind it by up to a kubelet sync period).
var ErrDeferred = errors.New("file change deferred: the API source is live")

// Reloader is the one validate-and-swap path every source feeds. Apply
// compiles and installs a snapshot; an error refuses it and the previous
// configuration stays in force.
type Reloader struct {
	Apply func(*config.Snapshot) error
	// Observe, if set, counts reloads by source and result.
	Observe func(source, result string)
	Log     *slog.Logger

	mu      sync.Mutex
	current string // hash in force
	apiLive bool
	// lastFile is the newest file content, applied when the API source
	// goes away.
	lastFile []byte
}

// Current returns the hash in force ("" before the first config).
func (r *Reloader) Current() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.current
}

// Offer validates raw from source and, if valid and new, applies it.
func (r *Reloader) Offer(source string, raw []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if source == SourceFile {
		r.lastFile = raw
		if r.apiLive && r.current != "" {
			r.observe(source, ResultDeferred)
			return ErrDeferred
		}
	}
	return r.offerLocked(source, raw)
}

func (r *Reloader) offerLocked(source string, raw []byte) error {
	if h := config.Hash(raw); h == r.current {
		r.observe(source, ResultUnchanged)
		return nil
	}
	snap, err := config.Parse(raw)
	if err == nil {
		err = r.Apply(snap)
	}
	if err != nil {
		r.observe(source, ResultInvalid)
		r.log().Error("configuration refused; the previous one stays in force", "source", source, "hash", config.Hash(raw), "inForce", r.current, "error", err.Error())
		return err
	}
	prev := r.current
	r.current = snap.Hash
	r.observe(source, ResultApplied)
	r.log().Info("configuration applied", "source", source, "hash", snap.Hash, "previous", prev,
		"route", snap.Config.Source.Namespace+"/"+snap.Config.Source.Name, "generation", snap.Config.Source.Generation)
	return nil
}

// SetAPILive records whether the API source is connected and synced. When it
// goes away, the newest file content is applied (the fallback).
func (r *Reloader) SetAPILive(live bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.apiLive == live {
		return
	}
	r.apiLive = live
	r.log().Info("API configuration source", "live", live)
	if !live && r.lastFile != nil {
		_ = r.offerLocked(SourceFile, r.lastFile)
	}
}

func (r *Reloader) observe(source, result string) {
	if r.Observe != nil {
		r.Observe(source, result)
	}
}

func (r *Reloader) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}
