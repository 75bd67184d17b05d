// Package fault injects the failures a production deployment meets and
// checks that no request is decided wrongly meanwhile: identity-provider
// outages and rotations, an API server or operator that stops, compiled
// configuration tampered with, load while routes and keys change, and
// shutdown under load. Each test logs what it injected, how many requests
// it checked and what was lost (nothing). Tests that need the control
// plane run against test/stack (KUBEBUILDER_ASSETS, as `make test` sets).
package fault
