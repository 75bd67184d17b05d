package compile_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/reload"
)

// previousRelease is how the sidecars of the release before this one read
// configurations: versions up to MaxVersion-1, nothing a later version
// added.
var previousRelease = config.Format{MaxVersion: config.MaxVersion - 1, Fields: config.Current().Fields}

// sampleSets are the groups of config/samples a user applies together.
func sampleSets(t *testing.T) map[string]samples {
	t.Helper()
	base := []string{"auth_v1alpha1_jwtauthorizer.yaml", "auth_v1alpha1_jwtauthorizer_keycloak.yaml"}
	sets := map[string]samples{
		"kubectl apply -f config/samples": loadSamples(t, append(base, "auth_v1alpha1_protectedroute.yaml", "auth_v1alpha1_protectedroute_keycloak.yaml")...),
	}
	// The kustomization, with the ConfigMap its generator makes of dev-tls/ca.crt.
	kustomized := loadSamples(t, "apps/devissuer.yaml", "auth_v1alpha1_protectedroute.yaml")
	ca, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "dev-tls", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	kustomized.configMaps[client.ObjectKey{Namespace: "colors", Name: "idp-ca"}] = &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "colors", Name: "idp-ca"}, Data: map[string]string{"ca.crt": string(ca)}}
	sets["kubectl apply -k config/samples"] = kustomized

	files, err := filepath.Glob(filepath.Join("..", "..", "config", "samples", "features", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		s := loadSamples(t, append(base, filepath.Join("features", filepath.Base(f)))...)
		sets["kubectl apply -f config/samples/features/"+filepath.Base(f)] = s
	}
	return sets
}

// Operator N with sidecars N-1 (README: Configuration format and version
// skew): every route of the samples compiles, with this operator's compiler,
// to the lowest format version that expresses it. Those that use nothing
// newer are read by the previous release's sidecars, field for field (the
// frozen version 1 configuration has every field they know); those that do
// are refused by them with a *config.VersionError that says to recreate the
// pods, on which a sidecar keeps its last good configuration
// (sidecar/reload's TestReloaderRefusesNewerVersion).
func TestPreviousSidecarsReadTheSamples(t *testing.T) {
	known := jsonKeys(t, mustRead(t, filepath.Join("..", "..", "sidecar", "config", "testdata", "v1-colors.json")))
	var read, refused []string
	for set, s := range sampleSets(t) {
		for _, c := range compileSamples(t, samples{authorizers: s.authorizers, configMaps: s.configMaps}, samples{routes: s.routes}) {
			name := fmt.Sprintf("%s: ProtectedRoute %s", set, c.route.Name)
			v := c.res.Config.Version
			if lowest := config.MinVersion(&c.res.Config); v != lowest {
				t.Errorf("%s: written as version %d, but version %d expresses it", name, v, lowest)
			}
			_, err := previousRelease.Parse(c.res.JSON)
			if v <= previousRelease.MaxVersion {
				read = append(read, name)
				if err != nil {
					t.Errorf("%s: the previous sidecars refuse it: %v", name, err)
				}
				for _, k := range jsonKeys(t, c.res.JSON) {
					if !slices.Contains(known, k) {
						t.Errorf("%s: field %s is not one the previous sidecars know", name, k)
					}
				}
				continue
			}
			refused = append(refused, name)
			var ve *config.VersionError
			if !errors.As(err, &ve) || ve.Version != v || ve.Max != previousRelease.MaxVersion {
				t.Errorf("%s: version %d; the previous sidecars answer %v, want a *config.VersionError", name, v, err)
				continue
			}
			if reload.RefusalResult(err) != reload.ResultRefusedVersion {
				t.Errorf("%s: the reloader counts the refusal as %s", name, reload.RefusalResult(err))
			}
			for _, want := range []string{"upgrade the sidecar image", "kubectl rollout restart"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%s: the refusal does not say %q: %v", name, want, err)
				}
			}
		}
	}
	sort.Strings(read)
	sort.Strings(refused)
	t.Logf("read by the previous sidecars:\n  %s\nneeding the current ones:\n  %s", strings.Join(read, "\n  "), strings.Join(refused, "\n  "))
	// The sample the README walks through uses nothing new.
	if !slices.Contains(read, "kubectl apply -f config/samples: ProtectedRoute colors-api") {
		t.Errorf("the colors-api sample needs the current sidecars; read by the previous ones: %q", read)
	}
	if len(refused) == 0 {
		t.Error("no sample uses a newer feature, so the refusal is not checked")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// jsonKeys lists the paths of every field of a JSON document as the version
// table writes them: "rules[].claims[].values[]".
func jsonKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var keys []string
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch v := v.(type) {
		case map[string]any:
			for name, f := range v {
				k := name
				if key != "" {
					k = key + "." + name
				}
				keys = append(keys, k)
				walk(f, k)
			}
		case []any:
			for _, e := range v {
				keys = append(keys, key+"[]")
				walk(e, key+"[]")
			}
		}
	}
	walk(doc, "")
	slices.Sort(keys)
	return slices.Compact(keys)
}
