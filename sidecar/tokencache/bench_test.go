package tokencache_test

import (
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/sidecar/tokencache"
)

// A full cache of 1 KiB tokens, the usual access token size.
func benchCache(b *testing.B) (*tokencache.Scope[string], []string) {
	c := tokencache.New[string](tokencache.DefaultMaxBytes, time.Minute)
	s := c.Scope("a", 1)
	var toks []string
	for i := range 1000 {
		toks = append(toks, tok(i, 1024))
		put(s, toks[i], 1, 3*1024, t0.Add(time.Hour))
	}
	b.ReportAllocs()
	return s, toks
}

func BenchmarkGetHit(b *testing.B) {
	s, toks := benchCache(b)
	i := 0
	for b.Loop() {
		if _, ok := s.Get(toks[i%len(toks)], 1, t0); !ok {
			b.Fatal("miss")
		}
		i++
	}
}

// Every core looking up at once: what the one lock costs under contention.
func BenchmarkGetHitParallel(b *testing.B) {
	s, toks := benchCache(b)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok := s.Get(toks[i%len(toks)], 1, t0); !ok {
				b.Error("miss")
				return
			}
			i++
		}
	})
}

// What an invalid token pays for the cache before it is verified.
func BenchmarkGetMiss(b *testing.B) {
	s, _ := benchCache(b)
	other := tok(-1, 1024)
	for b.Loop() {
		if _, ok := s.Get(other, 1, t0); ok {
			b.Fatal("hit")
		}
	}
}

// A miss's put into a full cache: it evicts the least recently used.
func BenchmarkPutFull(b *testing.B) {
	s, _ := benchCache(b)
	fresh := make([]string, 4096)
	for i := range fresh {
		fresh[i] = tok(1000+i, 1024)
	}
	i := 0
	for b.Loop() {
		put(s, fresh[i], 1, 3*1024, t0.Add(time.Hour))
		i = (i + 1) % len(fresh)
	}
}
