package stack

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// toTyped turns a decoded YAML document into the scheme's typed object.
func toTyped(sc *runtime.Scheme, raw map[string]any) (client.Object, error) {
	u := &unstructured.Unstructured{Object: raw}
	obj, err := sc.New(u.GroupVersionKind())
	if err != nil {
		return nil, fmt.Errorf("unknown kind %s: %w", u.GroupVersionKind(), err)
	}
	data, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, obj); err != nil {
		return nil, err
	}
	co, ok := obj.(client.Object)
	if !ok {
		return nil, fmt.Errorf("%T is not an object", obj)
	}
	return co, nil
}
