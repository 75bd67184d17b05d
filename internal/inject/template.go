package inject

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
)

// TemplateHash identifies the sidecar container these options inject:
// image, pull policy, arguments, probes, resources, security context.
// What each pod fills in (its ports, namespace, ConfigMap, its own
// resources and log-level annotations) is left out, so every pod injected
// under the same operator settings records the same hash, and a changed
// setting (or an operator whose sidecar template changed) gives a new one.
func (o Options) TemplateHash() string {
	res, _ := sidecarResources(&corev1.Pod{}, o) // no annotations: cannot fail
	c := sidecar(o, "", 0, "", "")
	c.Resources = res
	raw, err := json.Marshal(c)
	if err != nil {
		panic("inject: a container always marshals: " + err.Error())
	}
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ParseStatus reads a StatusAnnotation value. Annotations written before a
// field existed lack it; it is then empty.
func ParseStatus(annotation string) (Status, error) {
	var s Status
	err := json.Unmarshal([]byte(annotation), &s)
	return s, err
}

// Template is the sidecar that Options inject now, as pods record it.
type Template struct {
	Image string
	// Hash is Options.TemplateHash; empty compares images alone.
	Hash string
}

// Template returns what o injects, to compare pods' annotations with.
func (o Options) Template() Template { return Template{Image: o.Image, Hash: o.TemplateHash()} }

// Current reports whether a pod's recorded injection is t: the same image
// and, when both record one, the same template hash (annotations from
// before template hashes compare by image alone). Without an image on
// either side there is nothing to compare: current.
func (t Template) Current(s Status) bool {
	if s.Image == "" || t.Image == "" {
		return true
	}
	return s.Image == t.Image && (s.TemplateHash == "" || t.Hash == "" || s.TemplateHash == t.Hash)
}
