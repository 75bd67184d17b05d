package keys

import "time"

// SetNow replaces the cache's clock (staleness tests).
func (c *Cache) SetNow(f func() time.Time) { c.now = f }
