package inject

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// The template hash changes with every setting the sidecar container is
// built from, and with nothing a pod brings.
func TestTemplateHash(t *testing.T) {
	base := testOpts.TemplateHash()
	if !strings.HasPrefix(base, "sha256:") || len(base) != len("sha256:")+64 {
		t.Fatalf("hash %q is not sha256:<hex>", base)
	}
	if again := testOpts.TemplateHash(); again != base {
		t.Fatalf("the same options hash to %s and %s", base, again)
	}
	explicitDefaults := testOpts
	explicitDefaults.Resources = DefaultResources()
	if explicitDefaults.TemplateHash() != base {
		t.Error("resources left to the default and the default given explicitly inject the same sidecar but hash differently")
	}
	for name, change := range map[string]func(o *Options){
		"image":       func(o *Options) { o.Image += "-next" },
		"pull policy": func(o *Options) { o.ImagePullPolicy = corev1.PullAlways },
		"resources": func(o *Options) {
			o.Resources = DefaultResources()
			o.Resources.Limits[corev1.ResourceMemory] = resource.MustParse("256Mi")
		},
		"user": func(o *Options) { o.SidecarUser = 0 },
	} {
		o := testOpts
		change(&o)
		if o.TemplateHash() == base {
			t.Errorf("changing the %s keeps the template hash", name)
		}
	}
	// Per pod: another route, port and annotations inject the same template.
	named, numeric := loadCase(t, "testdata/named-port.in.yaml"), loadCase(t, "testdata/numeric-port.in.yaml")
	numeric.Pod.Annotations = map[string]string{LogLevelAnnotation: "debug"}
	for _, in := range []Input{named, numeric} {
		out, err := Patch(in.Pod, &in.Routes[0], in.Namespace, testOpts)
		if err != nil {
			t.Fatal(err)
		}
		st, err := ParseStatus(out.Annotations[StatusAnnotation])
		if err != nil || st.TemplateHash != base {
			t.Errorf("pod %s records template hash %q (%v), want %s", in.Pod.GenerateName, st.TemplateHash, err, base)
		}
	}
}

func TestTemplateCurrent(t *testing.T) {
	now := testOpts.Template()
	for _, tc := range []struct {
		name    string
		status  string
		current bool
	}{
		{"same image and template", `{"image":"` + now.Image + `","templateHash":"` + now.Hash + `"}`, true},
		{"older image", `{"image":"ghcr.io/jwtgate/sidecar:old","templateHash":"` + now.Hash + `"}`, false},
		{"same image, other settings", `{"image":"` + now.Image + `","templateHash":"sha256:0ld"}`, false},
		{"annotation from before template hashes, same image", `{"image":"` + now.Image + `","route":"colors-api"}`, true},
		{"annotation from before template hashes, older image", `{"image":"ghcr.io/jwtgate/sidecar:old","route":"colors-api"}`, false},
		{"no image recorded", `{"route":"colors-api"}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := ParseStatus(tc.status)
			if err != nil {
				t.Fatal(err)
			}
			if got := now.Current(st); got != tc.current {
				t.Errorf("Current = %v, want %v", got, tc.current)
			}
		})
	}
	// Without settings to hash (an operator that runs no webhook), images alone.
	imageOnly := Template{Image: now.Image}
	if !imageOnly.Current(Status{Image: now.Image, TemplateHash: "sha256:0ld"}) || imageOnly.Current(Status{Image: "ghcr.io/jwtgate/sidecar:old"}) {
		t.Error("a template without a hash does not compare by image alone")
	}
	if !(Template{}).Current(Status{Image: "ghcr.io/jwtgate/sidecar:old"}) {
		t.Error("a template without an image calls a pod stale")
	}
	if _, err := ParseStatus("{"); err == nil {
		t.Error("a broken annotation parses")
	}
}
