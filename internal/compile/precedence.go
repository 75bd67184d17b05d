package compile

import (
	"fmt"
	"strings"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
)

// CheckPrecedence rejects rules the sidecar could not order: two rules of
// equal specificity (the same sequence of literal, {param} and {greedy+}
// segments with the same literals, and both naming methods or both allowing
// any) that can match the same request. /colors/{id} and /colors/{name} for
// GET are such a pair; the gateway refuses them too.
func CheckPrecedence(rules []v1alpha1.RouteRule) error {
	shapes := make([]string, len(rules))
	for i, r := range rules {
		shapes[i] = shape(r.Path)
	}
	for i := range rules {
		for j := i + 1; j < len(rules); j++ {
			if shapes[i] == shapes[j] && methodsCollide(rules[i].Methods, rules[j].Methods) {
				return &InvalidRulesError{Msg: fmt.Sprintf(
					"rules[%d] (%s) and rules[%d] (%s) have equal precedence and can match the same request; "+
						"use one path template for both, give them disjoint methods, or make one more specific",
					i, describe(rules[i]), j, describe(rules[j]))}
			}
			// Many apps fold case, so the sidecar refuses a request that reaches
			// the less protected of two such rules by spelling alone (400):
			// one of them could never be used as written.
			if shapes[i] != shapes[j] && strings.EqualFold(shapes[i], shapes[j]) && methodsOverlap(rules[i].Methods, rules[j].Methods) {
				return &InvalidRulesError{Msg: fmt.Sprintf(
					"rules[%d] (%s) and rules[%d] (%s) differ only by letter case; the sidecar refuses requests "+
						"that could mean either, because many apps ignore case: spell both paths the same way",
					i, describe(rules[i]), j, describe(rules[j]))}
			}
		}
	}
	return nil
}

// methodsOverlap: some request method is allowed by both rules.
func methodsOverlap(a, b []v1alpha1.HTTPMethod) bool {
	return len(a) == 0 || len(b) == 0 || methodsCollide(a, b)
}

// shape normalises a path template to its precedence class: parameter names
// do not matter, only where parameters and greedy segments sit.
func shape(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		switch {
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "+}"):
			segs[i] = "{+}"
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			segs[i] = "{}"
		}
	}
	return strings.Join(segs, "/")
}

// methodsCollide: a rule naming methods beats one allowing any, so only two
// "any" rules or two rules sharing a method are tied.
func methodsCollide(a, b []v1alpha1.HTTPMethod) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == 0 && len(b) == 0
	}
	for _, m := range a {
		for _, n := range b {
			if strings.EqualFold(string(m), string(n)) {
				return true
			}
		}
	}
	return false
}

func describe(r v1alpha1.RouteRule) string {
	if len(r.Methods) == 0 {
		return "any method " + r.Path
	}
	ms := make([]string, len(r.Methods))
	for i, m := range r.Methods {
		ms[i] = string(m)
	}
	return strings.Join(sortedSet(ms), ",") + " " + r.Path
}
