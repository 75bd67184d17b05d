package controller

import (
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
)

// EventRecorderName is the reportingController of the operator's Events.
const EventRecorderName = "jwtgate-operator"

// Event actions: what the operator was doing when a condition changed.
const (
	ActionCheckKeys = "CheckKeys"
	ActionCompile   = "Compile"
)

// setCondition sets a condition for generation gen. meta.SetStatusCondition
// keeps lastTransitionTime when the status does not flip, so an unchanged
// outcome yields an identical condition and no status write.
func setCondition(conds *[]metav1.Condition, gen int64, typ string, ok bool, reason, msg string) {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	meta.SetStatusCondition(conds, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: truncate(msg, conditionMessageLimit), ObservedGeneration: gen,
	})
}

// recordTransitions emits one Event per condition whose status or reason
// differs between before and after: Normal when it is True, Warning when it
// is not. Messages alone do not count (a key count changing is no news), so
// a steady state emits nothing.
func recordTransitions(rec events.EventRecorder, obj runtime.Object, action string, before, after []metav1.Condition) {
	for _, c := range after {
		if old := meta.FindStatusCondition(before, c.Type); old != nil && old.Status == c.Status && old.Reason == c.Reason {
			continue
		}
		typ := corev1.EventTypeNormal
		if c.Status != metav1.ConditionTrue {
			typ = corev1.EventTypeWarning
		}
		note := truncate(c.Type+" is "+string(c.Status)+": "+c.Message, eventNoteLimit)
		rec.Eventf(obj, nil, typ, c.Reason, action, "%s", note)
	}
}

const (
	// conditionMessageLimit keeps messages well under the API's 32768 bytes.
	conditionMessageLimit = 4096
	// eventNoteLimit is the events.k8s.io/v1 limit on an Event's note.
	eventNoteLimit = 1024
)

// truncate keeps s within limit bytes, cutting on a character boundary.
func truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
