package webhook

import (
	"context"
	"errors"
	"net/http"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
)

// cacheSyncWait bounds one readiness probe's look at the cache.
const cacheSyncWait = 50 * time.Millisecond

// cachesSynced keeps a replica out of the webhook Service until its
// Namespace and ProtectedRoute caches have synced: before that, each
// admission would wait for the sync inside the API server's short timeout.
func cachesSynced(c cache.Cache) healthz.Checker {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), cacheSyncWait)
		defer cancel()
		if !c.WaitForCacheSync(ctx) {
			return errors.New("the Namespace and ProtectedRoute caches have not synced yet")
		}
		return nil
	}
}
