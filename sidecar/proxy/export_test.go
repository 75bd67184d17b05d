package proxy

import "time"

// SetNow replaces the handler's clock (time claims, the token cache).
func (h *Handler) SetNow(f func() time.Time) { h.now = f }
