// Package browser holds the browser test of the seed's single-page-app flow
// (README: Quick start): headless Chromium, driven over the DevTools protocol,
// loads the demo page from one origin and calls the colors API through the
// jwtgate sidecar on another, so real CORS preflights and Bearer tokens are
// exercised; a page on a disallowed origin must be blocked by the browser.
//
// The front is the real sidecar binary. Chromium comes from Debian's package
// (hack/install-chromium.sh installs it when missing). Screenshots are kept
// under artifacts/ at the repository root.
package browser
