package keys

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
)

// Registry runs one Cache per Source and keeps them across configuration
// reloads: a reload that keeps an authorizer keeps its keys.
type Registry struct {
	ctx    context.Context
	client *http.Client
	opts   Options
	obs    Observer
	log    *slog.Logger

	mu     sync.Mutex
	caches map[Source]*entry
}

type entry struct {
	cache  *Cache
	cancel context.CancelFunc
}

// NewRegistry returns a registry whose caches live until ctx ends.
func NewRegistry(ctx context.Context, client *http.Client, opts Options, obs Observer, log *slog.Logger) *Registry {
	return &Registry{ctx: ctx, client: client, opts: opts, obs: obs, log: log, caches: map[Source]*entry{}}
}

// Sync makes the registry hold exactly the caches for sources, starting
// new ones and stopping those no longer referenced, and returns them. A
// source whose CA bundle does not parse gets no cache, so its rules answer
// 503: its fetches must never fall back to the system's roots.
func (r *Registry) Sync(sources []Source) map[Source]*Cache {
	r.mu.Lock()
	defer r.mu.Unlock()
	want := make(map[Source]bool, len(sources))
	out := make(map[Source]*Cache, len(sources))
	for _, s := range sources {
		want[s] = true
		e, ok := r.caches[s]
		if !ok {
			f, err := NewFetcher(r.client, s)
			if err != nil {
				r.logger().Error("cannot fetch keys: the CA bundle is unusable", "authorizer", s.Name, "error", Detail(err))
				continue
			}
			ctx, cancel := context.WithCancel(r.ctx)
			e = &entry{cache: newCache(s, f, r.opts, r.obs, r.log), cancel: cancel}
			r.caches[s] = e
			go e.cache.Run(ctx)
		}
		out[s] = e.cache
	}
	for s, e := range r.caches {
		if !want[s] {
			e.cancel()
			e.cache.fetcher.Close()
			delete(r.caches, s)
		}
	}
	return out
}

func (r *Registry) logger() *slog.Logger {
	if r.log == nil {
		return slog.Default()
	}
	return r.log
}
