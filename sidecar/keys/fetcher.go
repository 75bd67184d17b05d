package keys

import "net/http"

// Fetcher gets one source's discovery document and key set with the trust
// its Source names: its CA bundle instead of the system's roots, and http
// on cluster-internal hosts when it allows insecure http. The operator's key
// check and the sidecar's caches both build it with NewFetcher, so what the
// operator reports is what the sidecars do.
type Fetcher struct {
	client            *http.Client
	own               bool // client has a pool of its own (a CA bundle)
	allowInsecureHTTP bool
}

// NewFetcher returns a fetcher for s over base, which must come from
// NewHTTPClient or a HostPolicy's NewHTTPClient. It fails only when s's CA
// bundle does not parse: then nothing may be fetched for s, since falling
// back to the system's roots would trust authorities the bundle excludes.
func NewFetcher(base *http.Client, s Source) (*Fetcher, error) {
	f := &Fetcher{client: base, allowInsecureHTTP: s.AllowInsecureHTTP}
	if s.CABundle == "" {
		return f, nil
	}
	b, err := ParseCABundle([]byte(s.CABundle))
	if err != nil {
		return nil, err
	}
	if f.client, err = WithCABundle(base, b); err != nil {
		return nil, err
	}
	f.own = true
	return f, nil
}

// Close releases the connections the fetcher holds for itself.
func (f *Fetcher) Close() {
	if f.own {
		f.client.CloseIdleConnections()
	}
}
