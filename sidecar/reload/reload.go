package reload

import (
	"errors"
	"fmt"
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
	// ResultRefusedVersion: a format version newer than this sidecar reads,
	// usually a pod older than the operator.
	ResultRefusedVersion = "refused_version"
	// ResultRefusedField: a field this sidecar does not know, or one newer
	// than the version the configuration declares.
	ResultRefusedField = "refused_field"
)

// RefusalResult says why err refused a configuration: ResultRefusedVersion,
// ResultRefusedField or ResultInvalid.
func RefusalResult(err error) string {
	var ve *config.VersionError
	var fe *config.FieldError
	switch {
	case errors.As(err, &ve):
		return ResultRefusedVersion
	case errors.As(err, &fe):
		return ResultRefusedField
	}
	return ResultInvalid
}

// Refusal is the newest configuration refused since the one in force was
// applied.
type Refusal struct {
	Hash   string
	Source string
	// Result is what RefusalResult says of Error.
	Result string
	Error  string
}

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
	refused  Refusal
}

// Current returns the hash in force ("" before the first config).
func (r *Reloader) Current() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.current
}

// Refused returns the newest configuration refused since the one in force
// was applied; its Hash is empty when there is none.
func (r *Reloader) Refused() Refusal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused
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
		r.refuse(source, config.Hash(raw), err)
		return err
	}
	prev := r.current
	r.current = snap.Hash
	r.refused = Refusal{}
	r.observe(source, ResultApplied)
	r.log().Info("configuration applied", "source", source, "hash", snap.Hash, "previous", prev,
		"route", snap.Config.Source.Namespace+"/"+snap.Config.Source.Name, "generation", snap.Config.Source.Generation)
	return nil
}

// refuse counts and logs a refusal. The same bytes offered again (the file
// poll) count again but log only at debug level.
func (r *Reloader) refuse(source, hash string, err error) {
	result := RefusalResult(err)
	r.observe(source, result)
	attrs := []any{"source", source, "hash", hash, "inForce", r.current, "result", result, "error", err.Error()}
	var ve *config.VersionError
	if errors.As(err, &ve) {
		attrs = append(attrs, "version", ve.Version, "supported", fmt.Sprintf("1..%d", ve.Max))
	}
	if hash == r.refused.Hash {
		r.log().Debug("configuration still refused; the previous one stays in force", attrs...)
	} else {
		r.log().Error("configuration refused; the previous one stays in force", attrs...)
	}
	r.refused = Refusal{Hash: hash, Source: source, Result: result, Error: err.Error()}
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
