// Package reload keeps the sidecar's configuration current while it runs.
// Package config defines what a configuration is; this package decides when a
// new one takes effect, and it is the only part of the sidecar that watches
// files or talks to the Kubernetes API for that purpose, so the operator's
// compiler can share package config without linking either.
//
// Two sources feed one Reloader:
//
//   - WatchFile follows the mounted ConfigMap file. Kubelet updates such a
//     mount by swapping a "..data" symlink, so it watches the directory rather
//     than the file, and polls as well in case an event is missed. The mount
//     is always there but lags the API by up to a kubelet sync period.
//   - WatchConfigMap watches the ConfigMap itself through the API server
//     (optional, --configmap), which delivers an update within about a second.
//     While it is live it is authoritative and file changes are deferred; when
//     it fails or the ConfigMap is deleted, the newest file content takes over.
//
// Every offer goes through config.Parse and the Reloader's Apply. Anything
// invalid, or refused by Apply, is logged and counted and the last good
// configuration stays in force. A format version newer than this sidecar
// reads, or a field it does not know, is refused the same way, counted under
// its own result (refused_version, refused_field) because it means the pod is
// older than the operator: the fix is to recreate it, not to edit the route.
// Refused() tells /configz what was refused and why, and a refusal that came
// through the API is also recorded as a Warning Event on the route. Apply
// swaps the new configuration in atomically: requests already in flight
// finish with the one they started with.
package reload
