package inject

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
)

// Warnings are what the admission response tells whoever creates the pod
// (out is Patch's result for in): that a sidecar the pod brought was
// replaced, and that Services can reach the app around the sidecar when the
// route protects a port by number.
func Warnings(in, out *corev1.Pod, route *v1alpha1.ProtectedRoute) []string {
	var w []string
	if diff := SidecarDifferences(in, out); len(diff) > 0 {
		w = append(w, fmt.Sprintf("jwtgate: the pod's own %s init container was replaced by the sidecar jwtgate injects (its %s differed): a pod cannot bring its own sidecar",
			SidecarName, strings.Join(diff, ", ")))
	}
	if msg := PortWarning(route, sidecarPortName(out)); msg != "" {
		w = append(w, msg)
	}
	return w
}

// SidecarDifferences says where the init container of the sidecar's name
// that in carried differs from the genuine sidecar Patch put in out, in
// what decides what runs and what it enforces. It is empty when in had no
// such container, or had the genuine sidecar (a pod re-created from an
// injected spec): fields the API server defaults are not compared.
func SidecarDifferences(in, out *corev1.Pod) []string {
	i, j := slices.IndexFunc(in.Spec.InitContainers, isSidecar), slices.IndexFunc(out.Spec.InitContainers, isSidecar)
	if i < 0 || j < 0 {
		return nil
	}
	had, want := in.Spec.InitContainers[i], out.Spec.InitContainers[j]
	var diff []string
	for _, f := range []struct {
		name string
		same bool
	}{
		{"image", had.Image == want.Image},
		{"command", slices.Equal(had.Command, want.Command)},
		{"args", slices.Equal(had.Args, want.Args)},
		{"restartPolicy", restartPolicy(had) == restartPolicy(want)},
		{"lifecycle", had.Lifecycle == nil},
		{"ports", slices.EqualFunc(had.Ports, want.Ports, func(a, b corev1.ContainerPort) bool {
			return a.Name == b.Name && a.ContainerPort == b.ContainerPort
		})},
		{"volumeMounts", slices.EqualFunc(had.VolumeMounts, want.VolumeMounts, func(a, b corev1.VolumeMount) bool {
			return a.Name == b.Name && a.MountPath == b.MountPath && a.SubPath == b.SubPath && a.ReadOnly == b.ReadOnly
		})},
		{"config volume", configMapOf(in) == configMapOf(out)},
	} {
		if !f.same {
			diff = append(diff, f.name)
		}
	}
	return diff
}

func restartPolicy(c corev1.Container) corev1.ContainerRestartPolicy {
	if c.RestartPolicy == nil {
		return ""
	}
	return *c.RestartPolicy
}

// configMapOf names the ConfigMap behind the pod's config volume.
func configMapOf(pod *corev1.Pod) string {
	for _, v := range pod.Spec.Volumes {
		if v.Name == ConfigVolume && v.ConfigMap != nil {
			return v.ConfigMap.Name
		}
	}
	return ""
}

// sidecarPortName is the name the pod gives its protected port: the one
// the sidecar took over, "" when the port had none.
func sidecarPortName(out *corev1.Pod) string {
	i := slices.IndexFunc(out.Spec.InitContainers, isSidecar)
	if i < 0 || len(out.Spec.InitContainers[i].Ports) == 0 {
		return ""
	}
	if name := out.Spec.InitContainers[i].Ports[0].Name; name != UnnamedPortName {
		return name
	}
	return ""
}

// PortTargetableByName reports whether a route's spec.port is a name. Only
// then does every Service that targets the protected port reach the
// sidecar: the sidecar takes over the port's name, never its number, so a
// Service whose targetPort is the number reaches the app directly.
func PortTargetableByName(port intstr.IntOrString) bool {
	return port.Type == intstr.String
}

// PortWarning says, for a route that protects a port by number, how
// Services reach the app around the sidecar and what to change; "" when
// spec.port is a name. podPortName is the name the pod gives that port: ""
// when it has none or is not known (as for a route's status).
func PortWarning(route *v1alpha1.ProtectedRoute, podPortName string) string {
	if PortTargetableByName(route.Spec.Port) {
		return ""
	}
	fix := "name the port in the pod template (for example http), set spec.port to that name and make Services target it by name"
	if podPortName != "" {
		fix = fmt.Sprintf("set spec.port to %q and make Services target it by name (targetPort: %s)", podPortName, podPortName)
	}
	return fmt.Sprintf("jwtgate: ProtectedRoute %s/%s protects port %d by number, so a Service with targetPort: %d reaches the app around the sidecar; %s",
		route.Namespace, route.Name, route.Spec.Port.IntVal, route.Spec.Port.IntVal, fix)
}
