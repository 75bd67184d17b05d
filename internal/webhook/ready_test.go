package webhook

import (
	"context"
	"net/http/httptest"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// syncCache reports a fixed sync state; nothing else of cache.Cache is used.
type syncCache struct {
	cache.Cache
	synced bool
}

func (c syncCache) WaitForCacheSync(ctx context.Context) bool {
	if !c.synced {
		<-ctx.Done()
	}
	return c.synced
}

func TestReadyOnlyOnceCachesSynced(t *testing.T) {
	req := httptest.NewRequest("GET", "/readyz", nil)
	if err := cachesSynced(syncCache{synced: false})(req); err == nil {
		t.Fatal("ready before the caches synced")
	}
	if err := cachesSynced(syncCache{synced: true})(req); err != nil {
		t.Fatalf("not ready after the caches synced: %v", err)
	}
}
