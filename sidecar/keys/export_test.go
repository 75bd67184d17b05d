package keys

import (
	"net"
	"net/http"
	"time"
)

// SetNow replaces the cache's clock (staleness tests).
func (c *Cache) SetNow(f func() time.Time) { c.clock.Store(&f) }

// NewHTTPClientResolving is p's client resolving names with r (a fake DNS
// server), so tests can make a name resolve to a refused address.
func (p HostPolicy) NewHTTPClientResolving(timeout time.Duration, r *net.Resolver) *http.Client {
	return newHTTPClient(timeout, &p, r)
}
