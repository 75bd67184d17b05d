// Package inject decides whether a pod gets the jwtgate sidecar and computes
// the injected pod. Both steps are pure functions of their inputs, so the
// admission handler stays thin and every rule is covered by golden tests.
package inject

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/selection"
	sidecarconfig "github.com/jwtgate/jwtgate/sidecar/config"
)

// sidecarPorts are the sidecar's listener, admin and loopback debug ports;
// an app that declares one of them would clash with it in the pod's network.
var sidecarPorts = []int32{sidecarconfig.DefaultListenPort, sidecarconfig.DefaultAdminPort, sidecarconfig.DefaultDebugPort}

// Labels and annotations of the injection contract (README: Installing on a cluster).
const (
	// NamespaceLabel opts a namespace in when set to NamespaceLabelValue.
	NamespaceLabel      = "jwtgate.io/injection"
	NamespaceLabelValue = "enabled"
	// PodOptOutLabel set to PodOptOutValue keeps a pod out of injection.
	PodOptOutLabel = "jwtgate.io/inject"
	PodOptOutValue = "false"
	// StatusAnnotation records what was injected (JSON, see Status).
	StatusAnnotation = "jwtgate.io/status"
)

// Names the patch gives to what it adds. The ValidatingAdmissionPolicy in
// config/guard checks the sidecar's arguments, mounts and ports against
// these, so keep them in step.
const (
	SidecarName      = "jwtgate-sidecar"
	ConfigVolume     = "jwtgate-config"
	TokenVolume      = "jwtgate-token"
	ConfigMountPath  = "/etc/jwtgate"
	TokenMountPath   = "/var/run/secrets/kubernetes.io/serviceaccount"
	AdminPortName    = "jwtgate-admin"
	AppPortName      = "jwtgate-app"  // the app's port after the sidecar takes its name
	UnnamedPortName  = "jwtgate-http" // the sidecar's port when the app's had no name
	ConfigMapSuffix  = "-jwtgate"
	tokenExpiration  = 3607 // seconds; the value kubelet uses for kube-api-access volumes
	projectedModeRO  = 0o444
	rootCAConfigMap  = "kube-root-ca.crt"
	defaultNamespace = "default"
)

// Options are the operator-wide injection settings.
type Options struct {
	// Image is the sidecar image (required).
	Image string
	// ImagePullPolicy for the sidecar; empty leaves the cluster default.
	ImagePullPolicy corev1.PullPolicy
	// Resources for the sidecar; zero value means DefaultResources().
	Resources corev1.ResourceRequirements
	// SidecarUser is the uid and gid the sidecar runs as, whatever user the
	// app runs as (the operator's default is DefaultSidecarUser). 0 leaves
	// them out: the pod's runAsUser or the image's user applies, as
	// OpenShift's restricted SCC requires (it assigns one from the
	// namespace's range). runAsNonRoot stays either way.
	SidecarUser int64
	// ExcludedNamespaces are never injected (the operator's own namespace);
	// kube-system is always excluded.
	ExcludedNamespaces []string
}

// DefaultSidecarUser is the uid and gid of the sidecar image's user.
const DefaultSidecarUser = 65532

// DefaultResources are the sidecar's requests and limits when none are configured.
func DefaultResources() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("10m"),
			corev1.ResourceMemory: resource.MustParse("32Mi"),
		},
		Limits: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("500m"),
			corev1.ResourceMemory: resource.MustParse("128Mi"),
		},
	}
}

// ConfigMapName is the compiled configuration's ConfigMap for a route.
func ConfigMapName(route string) string { return route + ConfigMapSuffix }

// Input is everything the decision looks at.
type Input struct {
	// Namespace is the pod's namespace (the admission request's, which is
	// authoritative: pod.metadata.namespace may be empty on CREATE).
	Namespace       string
	NamespaceLabels map[string]string
	Pod             *corev1.Pod
	// Routes are the ProtectedRoutes of Namespace.
	Routes []v1alpha1.ProtectedRoute
}

// Decision is the outcome of Decide. Reason is always set, for logs.
type Decision struct {
	Inject bool
	Reason string
	// Route owns the pod when Inject is true.
	Route *v1alpha1.ProtectedRoute
}

// Decide says whether the pod gets the sidecar. It repeats the webhook's
// namespace and object selectors so the decision is right on its own, even
// if the webhook configuration is edited.
func Decide(in Input, opts Options) Decision {
	switch {
	case in.Namespace == "kube-system" || slices.Contains(opts.ExcludedNamespaces, in.Namespace):
		return Decision{Reason: "namespace " + in.Namespace + " is excluded from injection"}
	case in.NamespaceLabels[NamespaceLabel] != NamespaceLabelValue:
		return Decision{Reason: "namespace is not labelled " + NamespaceLabel + "=" + NamespaceLabelValue}
	case in.Pod.Labels[PodOptOutLabel] == PodOptOutValue:
		return Decision{Reason: "pod opted out with " + PodOptOutLabel + "=" + PodOptOutValue}
	case in.Pod.Spec.HostNetwork:
		return Decision{Reason: "host-network pods cannot be injected"}
	}
	route := selection.OwningRoute(in.Pod.Labels, in.Routes)
	if route == nil {
		return Decision{Reason: "no ProtectedRoute selects the pod"}
	}
	return Decision{Inject: true, Route: route, Reason: "selected by ProtectedRoute " + route.Name}
}

// Injected reports whether the pod has a container of the sidecar's name.
// The name proves nothing about what runs in it: Patch replaces such a
// container and the guard checks image and arguments.
func Injected(pod *corev1.Pod) bool {
	return slices.ContainsFunc(pod.Spec.InitContainers, isSidecar) || slices.ContainsFunc(pod.Spec.Containers, isSidecar)
}

func isSidecar(c corev1.Container) bool { return c.Name == SidecarName }

// Status is the JSON recorded in the StatusAnnotation.
type Status struct {
	Image      string `json:"image"`
	Route      string `json:"route"`
	ConfigMap  string `json:"configMap"`
	ConfigHash string `json:"configHash,omitempty"`
	// AppPort is the app's port number the sidecar forwards to.
	AppPort int32 `json:"appPort"`
	// PortName is the name the sidecar took over ("" when the port had none).
	PortName   string `json:"portName,omitempty"`
	ListenPort int32  `json:"listenPort"`
	// TemplateHash is Options.TemplateHash of the settings the sidecar was
	// injected with; empty on pods injected before it was recorded.
	TemplateHash string `json:"templateHash,omitempty"`
}

// PortError refuses a pod whose protected port the sidecar cannot front
// alone: undeclared, not TCP, clashing with the sidecar's, or named twice.
type PortError struct {
	Route, Namespace string
	Port             intstr.IntOrString
	// Detail says what is wrong, Fix what to change.
	Detail, Fix string
}

func (e *PortError) Error() string {
	return fmt.Sprintf("ProtectedRoute %s/%s protects port %q, but %s; %s", e.Namespace, e.Route, e.Port.String(), e.Detail, e.Fix)
}

// Refused reports whether err, from Patch, refuses the pod for what it
// asks (*PortError, *AnnotationError), rather than failing to patch it.
func Refused(err error) bool {
	var pe *PortError
	var ae *AnnotationError
	return errors.As(err, &pe) || errors.As(err, &ae)
}

// Patch returns a copy of pod with the sidecar injected for route. An init
// container that already has the sidecar's name is replaced, whatever it
// runs: a pod cannot bring its own sidecar, and Patch applied to its own
// output changes nothing. It fails with *PortError when the pod cannot be
// guarded as the route asks, and *AnnotationError when the pod's sidecar
// annotations are invalid.
func Patch(pod *corev1.Pod, route *v1alpha1.ProtectedRoute, namespace string, opts Options) (*corev1.Pod, error) {
	out := pod.DeepCopy()
	dropSidecar(out)
	if namespace == "" {
		namespace = defaultNamespace
	}
	perr := func(fix, detail string, args ...any) error {
		return &PortError{Route: route.Name, Namespace: namespace, Port: route.Spec.Port, Detail: fmt.Sprintf(detail, args...), Fix: fix}
	}

	if slices.ContainsFunc(out.Spec.Containers, isSidecar) {
		return nil, perr("rename that container", "spec.containers has a container named %q, the name reserved for the injected sidecar", SidecarName)
	}
	ci, pi := findPort(out, route.Spec.Port)
	if ci < 0 {
		return nil, perr("declare it in the app container's ports (name or containerPort) or change the route's spec.port", "no container of the pod declares it")
	}
	app := &out.Spec.Containers[ci]
	port := app.Ports[pi]
	if port.Protocol != "" && port.Protocol != corev1.ProtocolTCP {
		return nil, perr("use protocol TCP for it or protect another port", "container %q declares it with protocol %s; the sidecar fronts TCP (HTTP) only", app.Name, port.Protocol)
	}
	for _, c := range out.Spec.Containers {
		for _, p := range c.Ports {
			if slices.Contains(sidecarPorts, p.ContainerPort) {
				return nil, perr(fmt.Sprintf("move the app off ports %d, %d and %d", sidecarPorts[0], sidecarPorts[1], sidecarPorts[2]), "container %q uses port %d, which the jwtgate sidecar needs", c.Name, p.ContainerPort)
			}
		}
	}
	for _, v := range out.Spec.Volumes {
		if v.Name == ConfigVolume || v.Name == TokenVolume {
			return nil, perr("rename that volume", "the pod already has a volume named %q, which the jwtgate sidecar needs", v.Name)
		}
	}

	if other := otherPortOwner(out, port.Name, app.Name); other != "" {
		return nil, perr(fmt.Sprintf("give the port in %q another name", other),
			"containers %q and %q both name a port %q, so a Service with targetPort: %s would reach %q around the sidecar",
			app.Name, other, port.Name, port.Name, other)
	}

	res, err := sidecarResources(out, opts)
	if err != nil {
		return nil, err
	}
	logLevel, err := logLevelArgs(out)
	if err != nil {
		return nil, err
	}

	sidecarPortName := UnnamedPortName
	if port.Name != "" {
		sidecarPortName = port.Name
		app.Ports[pi].Name = AppPortName
		rewriteProbes(app, port.Name, port.ContainerPort)
	}

	configMap := ConfigMapName(route.Name)
	sc := sidecar(opts, sidecarPortName, port.ContainerPort, namespace, configMap)
	sc.Resources = res
	sc.Args = append(sc.Args, logLevel...)
	out.Spec.InitContainers = append([]corev1.Container{sc}, out.Spec.InitContainers...)
	out.Spec.Volumes = append(out.Spec.Volumes, volumes(configMap)...)
	if out.Spec.ServiceAccountName == "" {
		// A token projection needs a named account; this is the one the
		// ServiceAccount admission plugin would have set.
		out.Spec.ServiceAccountName = "default"
	}

	status, err := json.Marshal(Status{
		Image: opts.Image, Route: route.Name, ConfigMap: configMap, ConfigHash: route.Status.ConfigHash,
		AppPort: port.ContainerPort, PortName: port.Name, ListenPort: sidecarconfig.DefaultListenPort,
		TemplateHash: opts.TemplateHash(),
	})
	if err != nil {
		return nil, err
	}
	if out.Annotations == nil {
		out.Annotations = map[string]string{}
	}
	out.Annotations[StatusAnnotation] = string(status)
	return out, nil
}

// findPort locates the protected port among the app containers (not init
// containers: the sidecar fronts the long-running app).
func findPort(pod *corev1.Pod, want intstr.IntOrString) (container, port int) {
	for ci, c := range pod.Spec.Containers {
		for pi, p := range c.Ports {
			if (want.Type == intstr.String && p.Name == want.StrVal) || (want.Type == intstr.Int && p.ContainerPort == want.IntVal) {
				return ci, pi
			}
		}
	}
	return -1, -1
}

// otherPortOwner names a container other than app that declares a port
// called name. A Service resolves a named targetPort to the first app
// container that declares it, then to native sidecars: a second port of the
// name the sidecar takes over would lead around the sidecar.
func otherPortOwner(pod *corev1.Pod, name, app string) string {
	if name == "" {
		return ""
	}
	named := func(p corev1.ContainerPort) bool { return p.Name == name }
	for _, c := range pod.Spec.Containers {
		if c.Name != app && slices.ContainsFunc(c.Ports, named) {
			return c.Name
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways && slices.ContainsFunc(c.Ports, named) {
			return c.Name
		}
	}
	return ""
}

// dropSidecar removes an init container of the sidecar's name with what an
// injection adds next to it (its volumes, the app port's new name), so
// Patch injects the genuine sidecar in its place.
func dropSidecar(pod *corev1.Pod) {
	i := slices.IndexFunc(pod.Spec.InitContainers, isSidecar)
	if i < 0 {
		return
	}
	old := pod.Spec.InitContainers[i]
	pod.Spec.InitContainers = slices.Delete(pod.Spec.InitContainers, i, i+1)
	pod.Spec.Volumes = slices.DeleteFunc(pod.Spec.Volumes, func(v corev1.Volume) bool {
		return v.Name == ConfigVolume || v.Name == TokenVolume
	})
	// The app's port gets back the name the sidecar had taken from it.
	name := ""
	for _, p := range old.Ports {
		if p.Name != AdminPortName && p.Name != UnnamedPortName {
			name = p.Name
			break
		}
	}
	for ci := range pod.Spec.Containers {
		for pi, p := range pod.Spec.Containers[ci].Ports {
			if p.Name == AppPortName {
				pod.Spec.Containers[ci].Ports[pi].Name = name
			}
		}
	}
}

// rewriteProbes turns references to the port's old name into its number:
// kubelet resolves a named probe port against the container's own ports,
// and the app container no longer has that name. gRPC probes and numeric
// ports need nothing.
func rewriteProbes(c *corev1.Container, name string, number int32) {
	fix := func(p *intstr.IntOrString) {
		if p.Type == intstr.String && p.StrVal == name {
			*p = intstr.FromInt32(number)
		}
	}
	handler := func(h *corev1.ProbeHandler) {
		if h.HTTPGet != nil {
			fix(&h.HTTPGet.Port)
		}
		if h.TCPSocket != nil {
			fix(&h.TCPSocket.Port)
		}
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		if p != nil {
			handler(&p.ProbeHandler)
		}
	}
	if c.Lifecycle != nil {
		for _, h := range []*corev1.LifecycleHandler{c.Lifecycle.PostStart, c.Lifecycle.PreStop} {
			if h == nil {
				continue
			}
			if h.HTTPGet != nil {
				fix(&h.HTTPGet.Port)
			}
			if h.TCPSocket != nil {
				fix(&h.TCPSocket.Port)
			}
		}
	}
}

func sidecar(opts Options, portName string, appPort int32, namespace, configMap string) corev1.Container {
	always := corev1.ContainerRestartPolicyAlways
	probe := func(path string, period, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: path, Port: intstr.FromInt32(sidecarconfig.DefaultAdminPort),
			}},
			PeriodSeconds: period, FailureThreshold: failures, TimeoutSeconds: 1,
		}
	}
	return corev1.Container{
		Name:            SidecarName,
		Image:           opts.Image,
		ImagePullPolicy: opts.ImagePullPolicy,
		RestartPolicy:   &always,
		Args: []string{
			"--config=" + ConfigMountPath + "/" + sidecarconfig.ConfigMapKey,
			fmt.Sprintf("--listen=:%d", sidecarconfig.DefaultListenPort),
			fmt.Sprintf("--admin-listen=:%d", sidecarconfig.DefaultAdminPort),
			fmt.Sprintf("--upstream=http://127.0.0.1:%d", appPort),
			"--configmap=" + namespace + "/" + configMap,
		},
		Ports: []corev1.ContainerPort{
			{Name: portName, ContainerPort: sidecarconfig.DefaultListenPort, Protocol: corev1.ProtocolTCP},
			{Name: AdminPortName, ContainerPort: sidecarconfig.DefaultAdminPort, Protocol: corev1.ProtocolTCP},
		},
		// The startup probe holds the app back until the sidecar is ready
		// (configuration loaded, first key fetch ended), so no request
		// reaches the app port before the guard can decide.
		StartupProbe:   probe("/readyz", 1, 60),
		LivenessProbe:  probe("/healthz", 10, 3),
		ReadinessProbe: probe("/readyz", 5, 2),
		VolumeMounts: []corev1.VolumeMount{
			{Name: ConfigVolume, MountPath: ConfigMountPath, ReadOnly: true},
			{Name: TokenVolume, MountPath: TokenMountPath, ReadOnly: true},
		},
		SecurityContext:          securityContext(opts.SidecarUser),
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
}

func securityContext(user int64) *corev1.SecurityContext {
	sc := &corev1.SecurityContext{
		RunAsNonRoot:             ptr(true),
		ReadOnlyRootFilesystem:   ptr(true),
		AllowPrivilegeEscalation: ptr(false),
		Privileged:               ptr(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if user != 0 {
		sc.RunAsUser, sc.RunAsGroup = ptr(user), ptr(user)
	}
	return sc
}

// volumes are the compiled configuration and a service-account token for
// the sidecar's ConfigMap watch, projected like kube-api-access so it works
// even when the pod sets automountServiceAccountToken: false.
func volumes(configMap string) []corev1.Volume {
	return []corev1.Volume{
		{Name: ConfigVolume, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: configMap},
		}}},
		{Name: TokenVolume, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			DefaultMode: ptr(int32(projectedModeRO)),
			Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr(int64(tokenExpiration))}},
				{ConfigMap: &corev1.ConfigMapProjection{
					LocalObjectReference: corev1.LocalObjectReference{Name: rootCAConfigMap},
					Items:                []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}},
				}},
				{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
					{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}},
				}}},
			},
		}}},
	}
}

func ptr[T any](v T) *T { return &v }
