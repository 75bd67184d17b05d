package inject

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Pod annotations that adjust the injected sidecar of one pod (README:
// Installing on a cluster). An invalid value refuses the pod, with an
// *AnnotationError, rather than inject a sidecar that is not what was
// asked for.
const (
	// ResourcesAnnotation holds resources as JSON, as --sidecar-resources
	// does; each quantity it gives replaces the operator's for that
	// resource, the others stay.
	ResourcesAnnotation = "jwtgate.io/sidecar-resources"
	// LogLevelAnnotation is the sidecar's --log-level.
	LogLevelAnnotation = "jwtgate.io/sidecar-log-level"
)

// LogLevels are the values of LogLevelAnnotation, the sidecar's levels.
var LogLevels = []string{"debug", "info", "warn", "error"}

// resourceBound is the range a pod may ask for one of its sidecar's
// resources; the operator's own --sidecar-resources is not bounded.
type resourceBound struct {
	name            corev1.ResourceName
	minLimit, max   resource.Quantity
	tooLow, tooHigh string // why, for the refusal
}

// resourceBounds: only CPU and memory, the sidecar's only needs (its root
// filesystem is read-only).
//   - memory limit 32Mi..1Gi: below 32Mi the Go runtime, the verified-token
//     cache (8 MiB), key sets and connection buffers leave no headroom and
//     the sidecar is OOM-killed, taking the pod's traffic with it; its
//     memory is bounded by design (cache size, --max-connections), so more
//     than 1Gi is a unit slip (Gi for Mi) that would hold node memory.
//   - CPU limit 50m..4: a token check costs 40-120 µs of CPU, so 50m
//     verifies a few hundred requests a second, and below it throttling
//     makes every request wait; 4 cores verify tens of thousands a second.
//
// Requests may be anything up to the maximum and their limit.
var resourceBounds = []resourceBound{
	{name: corev1.ResourceMemory, minLimit: resource.MustParse("32Mi"), max: resource.MustParse("1Gi"),
		tooLow: "the sidecar would be OOM-killed", tooHigh: "more than the sidecar can use (a unit slip?)"},
	{name: corev1.ResourceCPU, minLimit: resource.MustParse("50m"), max: resource.MustParse("4"),
		tooLow: "requests would wait for CPU", tooHigh: "more than the sidecar can use (a unit slip?)"},
}

// AnnotationError refuses a pod whose sidecar annotation is invalid.
type AnnotationError struct {
	Annotation string
	// Detail says what is wrong, Fix what to change.
	Detail, Fix string
}

func (e *AnnotationError) Error() string {
	return fmt.Sprintf("jwtgate: pod annotation %s: %s; %s", e.Annotation, e.Detail, e.Fix)
}

// DecodeResources reads resource requirements from JSON strictly: unknown
// fields, trailing data, claims and negative quantities are refused, since
// each would otherwise surface later as a pod the API server refuses or a
// sidecar without the resources meant.
func DecodeResources(s string) (corev1.ResourceRequirements, error) {
	var res corev1.ResourceRequirements
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); errors.Is(err, io.EOF) {
		return res, errors.New("no JSON object")
	} else if errors.Is(err, io.ErrUnexpectedEOF) {
		return res, errors.New("the JSON ends before its object does")
	} else if err != nil {
		return res, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return res, errors.New("data after the JSON object")
	}
	if len(res.Claims) > 0 {
		return res, errors.New("it has claims, which the sidecar does not use")
	}
	for _, f := range fields(res) {
		for _, name := range sortedNames(f.list) {
			if q := f.list[name]; q.Sign() < 0 {
				return res, fmt.Errorf("%s.%s (%s) is negative", f.name, name, q.String())
			}
		}
	}
	return res, nil
}

// RequestsWithinLimits fails on the first resource (by name) whose request
// exceeds its limit, which the API server would refuse the pod for.
func RequestsWithinLimits(res corev1.ResourceRequirements) error {
	for _, name := range sortedNames(res.Requests) {
		req := res.Requests[name]
		if limit, ok := res.Limits[name]; ok && req.Cmp(limit) > 0 {
			return fmt.Errorf("requests.%s (%s) exceeds limits.%s (%s)", name, req.String(), name, limit.String())
		}
	}
	return nil
}

// field is requests or limits, by name.
type field struct {
	name string
	list corev1.ResourceList
}

func fields(res corev1.ResourceRequirements) []field {
	return []field{{"requests", res.Requests}, {"limits", res.Limits}}
}

func sortedNames(l corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(l))
	for name := range l {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// sidecarResources are the operator's resources with the pod's annotation
// applied, or an *AnnotationError.
func sidecarResources(pod *corev1.Pod, opts Options) (corev1.ResourceRequirements, error) {
	res := opts.Resources
	if res.Requests == nil && res.Limits == nil {
		res = DefaultResources()
	}
	value, ok := pod.Annotations[ResourcesAnnotation]
	if !ok {
		return res, nil
	}
	refuse := func(fix, detail string, args ...any) error {
		return &AnnotationError{Annotation: ResourcesAnnotation, Detail: fmt.Sprintf(detail, args...), Fix: fix}
	}
	own, err := DecodeResources(value)
	if err != nil {
		return res, refuse(`write JSON such as {"requests":{"cpu":"50m","memory":"64Mi"},"limits":{"memory":"256Mi"}}, or remove the annotation to use the operator's resources`,
			"%v", err)
	}
	for _, f := range fields(own) {
		for _, name := range sortedNames(f.list) {
			i := slices.IndexFunc(resourceBounds, func(b resourceBound) bool { return b.name == name })
			if i < 0 {
				return res, refuse("give only cpu and memory", "it sets %s.%s, which the sidecar does not use", f.name, name)
			}
			b, q := resourceBounds[i], f.list[name]
			if q.Cmp(b.max) > 0 {
				return res, refuse(fmt.Sprintf("set %s.%s to at most %s", f.name, name, b.max.String()),
					"%s.%s is %s, above %s: %s", f.name, name, q.String(), b.max.String(), b.tooHigh)
			}
			if f.name == "limits" && q.Cmp(b.minLimit) < 0 {
				return res, refuse(fmt.Sprintf("set limits.%s to at least %s", name, b.minLimit.String()),
					"limits.%s is %s, below %s: %s", name, q.String(), b.minLimit.String(), b.tooLow)
			}
		}
	}
	merged := corev1.ResourceRequirements{Requests: merge(res.Requests, own.Requests), Limits: merge(res.Limits, own.Limits)}
	if err := RequestsWithinLimits(merged); err != nil {
		return res, refuse("give requests at most the limits in the annotation (what it leaves out is the operator's: "+resourcesJSON(res)+")",
			"%v once its values replace the operator's", err)
	}
	return merged, nil
}

func merge(base, over corev1.ResourceList) corev1.ResourceList {
	if base == nil && over == nil {
		return nil
	}
	out := base.DeepCopy()
	if out == nil {
		out = corev1.ResourceList{}
	}
	for name, q := range over {
		out[name] = q.DeepCopy()
	}
	return out
}

func resourcesJSON(res corev1.ResourceRequirements) string {
	b, err := json.Marshal(res)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// logLevelArgs is the sidecar's --log-level argument for the pod's
// annotation (none without it), or an *AnnotationError.
func logLevelArgs(pod *corev1.Pod) ([]string, error) {
	level, ok := pod.Annotations[LogLevelAnnotation]
	if !ok {
		return nil, nil
	}
	if !slices.Contains(LogLevels, level) {
		return nil, &AnnotationError{Annotation: LogLevelAnnotation,
			Detail: fmt.Sprintf("%q is not a log level of the sidecar", level),
			Fix:    "set it to " + strings.Join(LogLevels[:len(LogLevels)-1], ", ") + " or " + LogLevels[len(LogLevels)-1] + ", or remove it (info)"}
	}
	return []string{"--log-level=" + level}, nil
}
