package fault

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jwtgate/jwtgate/internal/inject"
	sidecarconfig "github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/test/stack"
)

// A cluster administrator (system:masters, whom jwtgate-protect lets
// through) edits the compiled ConfigMap into something the sidecar must
// refuse, then deletes it. The sidecar keeps its last good configuration
// and says so (/configz, metric, log); the operator repairs or recreates
// the ConfigMap within seconds. A namespace editor's edit is refused by
// jwtgate-protect.
func TestConfigurationFaults(t *testing.T) {
	s := stackFor(t)
	ctx := context.Background()
	key := types.NamespacedName{Namespace: stack.AppNamespace, Name: inject.ConfigMapName(stack.RouteName)}
	var cm corev1.ConfigMap
	if err := s.Client.Get(ctx, key, &cm); err != nil {
		t.Fatal(err)
	}
	good := cm.Data[sidecarconfig.ConfigMapKey]
	goodHash := readConfigz(t, s.Sidecar.DebugURL).Hash

	tampered := func(edit func(cfg map[string]any)) string {
		var cfg map[string]any
		if err := json.Unmarshal([]byte(good), &cfg); err != nil {
			t.Fatal(err)
		}
		edit(cfg)
		b, _ := json.Marshal(cfg)
		return string(b)
	}
	cases := []struct{ name, data, result string }{
		{"invalid JSON", `{"version": 1, "rules": [`, "invalid"},
		{"unknown version", tampered(func(c map[string]any) { c["version"] = 999 }), "refused_version"},
		{"rule naming a missing authorizer", tampered(func(c map[string]any) {
			rules := c["rules"].([]any)
			rules[len(rules)-1].(map[string]any)["authorizer"] = "ghost"
		}), "invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := startChecker(t, s)
			if err := until2(10*time.Second, func() error {
				if err := s.Client.Get(ctx, key, &cm); err != nil {
					return err
				}
				cm.Data[sidecarconfig.ConfigMapKey] = tc.data
				return s.Client.Update(ctx, &cm)
			}); err != nil {
				t.Fatal(err)
			}
			repaired := until(t, 30*time.Second, "the operator repairs the ConfigMap", func() bool {
				var now corev1.ConfigMap
				return s.Client.Get(ctx, key, &now) == nil && now.Data[sidecarconfig.ConfigMapKey] == good
			})
			time.Sleep(time.Second) // requests checked after the repair too
			checked := c.finish(t)
			cz := readConfigz(t, s.Sidecar.DebugURL)
			if cz.Hash != goodHash {
				t.Errorf("the sidecar enforces %s, want the last good %s", cz.Hash, goodHash)
			}
			refusedLog := len(lines(`"configuration refused`)) + len(lines(`refused`, `"source":"api"`))
			m := metric(s.Sidecar.AdminURL, `jwtgate_sidecar_config_reloads_total{result="`+tc.result+`",source="api"}`)
			if m == "" {
				t.Errorf("no reload metric with result %s", tc.result)
			}
			// The operator may repair before the sidecar sees the edit; the
			// refusal is then not recorded, which is no loss.
			t.Logf("injected: ConfigMap edited by system:masters into %s; checked %d requests; repaired by the operator %s later; sidecar kept %s; /configz refused=%v; metric %q; refusal log lines so far %d; lost: nothing",
				tc.name, checked, repaired.Round(time.Millisecond), cz.Hash, cz.Refused, m, refusedLog)
		})
	}

	t.Run("ConfigMap deleted", func(t *testing.T) {
		c := startChecker(t, s)
		if err := s.Client.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}); err != nil {
			t.Fatal(err)
		}
		took := until(t, 30*time.Second, "the operator recreates the ConfigMap", func() bool {
			var now corev1.ConfigMap
			return s.Client.Get(ctx, key, &now) == nil && now.Data[sidecarconfig.ConfigMapKey] == good
		})
		time.Sleep(time.Second) // the sidecar's watch sees the new object
		checked := c.finish(t)
		if h := readConfigz(t, s.Sidecar.DebugURL).Hash; h != goodHash {
			t.Errorf("the sidecar enforces %s after the ConfigMap came back, want %s", h, goodHash)
		}
		t.Logf("injected: compiled ConfigMap deleted; recreated by the operator %s later; checked %d requests; lost: nothing", took.Round(time.Millisecond), checked)
	})

	t.Run("a namespace editor's edit is refused by jwtgate-protect", func(t *testing.T) {
		if err := s.ApplyFiles(ctx, "config/protect/policy.yaml", "config/protect/binding.yaml"); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		// What ClusterRole edit grants on ConfigMaps (envtest runs no
		// controller-manager to aggregate edit's rules).
		role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: stack.AppNamespace, Name: "configmap-editor"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}}}}
		if err := s.Client.Create(ctx, role); err != nil {
			t.Fatal(err)
		}
		rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: stack.AppNamespace, Name: "jane-edit"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "jane"}}}
		if err := s.Client.Create(ctx, rb); err != nil {
			t.Fatal(err)
		}
		jane, err := s.UserClient("jane")
		if err != nil {
			t.Fatal(err)
		}
		var last error
		defer func() {
			if t.Failed() {
				t.Logf("last answer to the editor: %v", last)
			}
		}()
		took := until(t, 30*time.Second, "jwtgate-protect refuses the editor's edit", func() bool {
			var now corev1.ConfigMap
			if last = jane.Get(ctx, key, &now); last != nil {
				return false
			}
			now.Data[sidecarconfig.ConfigMapKey] = `{"version":1,"rules":[]}`
			// Dry run until the new policy is in force: admission runs, nothing changes.
			last = jane.Update(ctx, &now, client.DryRunAll)
			if last == nil || !apierrors.IsForbidden(last) || !strings.Contains(last.Error(), "jwtgate-protect") {
				return false
			}
			last = jane.Update(ctx, &now)
			return apierrors.IsForbidden(last) && strings.Contains(last.Error(), "jwtgate-protect")
		})
		t.Logf("injected: ConfigMap edit by namespace editor jane (a Role that may edit ConfigMaps); refused (policy active after %s): %v", took.Round(time.Millisecond), last)
	})
}
