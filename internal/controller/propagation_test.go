package controller

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/reload"
)

const propagationUpdates = 20

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer l.Close()
	return l.Addr().String()
}

// status GETs url with an optional bearer token and returns the status code
// (0 when the request failed).
func status(url, token string) int {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	Expect(err).NotTo(HaveOccurred())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// configzHash is the configuration hash a sidecar says it enforces.
func configzHash(url string) string {
	resp, err := http.Get(url)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	var z struct {
		Hash string `json:"hash"`
	}
	Expect(json.NewDecoder(resp.Body).Decode(&z)).To(Succeed())
	return z.Hash
}

// The operator -> ConfigMap -> API watch -> sidecar path, end to end: the real
// sidecar binary runs as a process with a pod's service-account identity
// against the envtest API server, and each ProtectedRoute update is timed
// until the sidecar enforces it.
var _ = Describe("Propagation to a running sidecar", Ordered, Label("propagation"), func() {
	var sidecarBin string
	BeforeAll(func() {
		root, err := filepath.Abs(filepath.Join("..", ".."))
		Expect(err).NotTo(HaveOccurred())
		sidecarBin = filepath.Join(root, "bin", "jwtgate-sidecar")
		build := exec.Command("go", "build", "-o", sidecarBin, "./cmd/jwtgate-sidecar")
		build.Dir = root
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := build.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "building the sidecar: %s", out)
	})

	It(fmt.Sprintf("enforces each of %d ProtectedRoute updates within about a second", propagationUpdates), func() {
		ns := newNamespace()
		iss := newIssuer()
		auth := colorsAuthorizer(ns, iss.URL)
		Expect(k8sClient.Create(bg, auth)).To(Succeed())

		upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = fmt.Fprintf(w, "upstream saw %s", r.URL.Path)
		}))
		DeferCleanup(upstream.Close)
		port := upstream.Listener.Addr().(*net.TCPAddr).Port

		route := colorsRoute(ns)
		route.Spec.Port = intstr.FromInt32(int32(port))
		route.Spec.Rules[0].Path = "/p0"
		Expect(k8sClient.Create(bg, route)).To(Succeed())
		Eventually(condition(route, v1alpha1.ConditionReady)).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonCompiled))

		// The mounted file (the kubelet's copy) starts as the ConfigMap's content.
		dir := GinkgoT().TempDir()
		cm := &corev1.ConfigMap{}
		Expect(k8sClient.Get(bg, client.ObjectKey{Namespace: ns, Name: ObjectName(route.Name)}, cm)).To(Succeed())
		cfgFile := filepath.Join(dir, config.ConfigMapKey)
		Expect(os.WriteFile(cfgFile, []byte(cm.Data[config.ConfigMapKey]), 0o600)).To(Succeed())
		kubeconfig := filepath.Join(dir, "kubeconfig")
		writeKubeconfig(serviceAccountConfig(ns, "colors-api"), kubeconfig)

		listen, admin, debug := freeAddr(), freeAddr(), freeAddr()
		cmd := exec.Command(sidecarBin,
			"--config", cfgFile,
			"--kubeconfig", kubeconfig,
			"--configmap", ns+"/"+ObjectName(route.Name),
			"--listen", listen,
			"--admin-listen", admin,
			"--debug-listen", debug,
			"--upstream", upstream.URL,
		)
		cmd.Stdout, cmd.Stderr = GinkgoWriter, GinkgoWriter
		Expect(cmd.Start()).To(Succeed())
		DeferCleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }() // exit status after SIGTERM says nothing
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
			}
		})
		Eventually(func() int { return status("http://"+admin+"/readyz", "") }).Should(Equal(http.StatusOK))

		base := "http://" + listen
		Expect(status(base+"/p0", "")).To(Equal(http.StatusOK))
		Expect(status(base+"/my/profile", "")).To(Equal(http.StatusUnauthorized))
		token := iss.Sign("rsa-1", iss.Claims(auth.Spec.Audiences[0]))
		Expect(status(base+"/my/profile", token)).To(Equal(http.StatusOK))

		var took []time.Duration
		for i := 1; i <= propagationUpdates; i++ {
			path := fmt.Sprintf("/p%d", i)
			Expect(status(base+path, "")).To(Equal(http.StatusNotFound), "before update %d", i)
			Expect(k8sClient.Get(bg, key(route), route)).To(Succeed())
			// A patch, not an update: the operator's status writes must not make it conflict.
			patch := client.MergeFrom(route.DeepCopy())
			route.Spec.Rules[0].Path = path
			start := time.Now()
			Expect(k8sClient.Patch(bg, route, patch)).To(Succeed())
			Eventually(func() int { return status(base+path, "") }, "10s", "5ms").Should(Equal(http.StatusOK), "update %d never reached the sidecar", i)
			took = append(took, time.Since(start))
			Expect(status(base+fmt.Sprintf("/p%d", i-1), "")).To(Equal(http.StatusNotFound), "the old rule must be gone")
		}
		slices.Sort(took)
		p50 := (took[len(took)/2-1] + took[len(took)/2]) / 2
		mx := took[len(took)-1]
		msg := fmt.Sprintf("ProtectedRoute update -> running sidecar enforces it, over %d updates: p50 %s, max %s, min %s",
			len(took), p50.Round(time.Millisecond), mx.Round(time.Millisecond), took[0].Round(time.Millisecond))
		fmt.Fprintln(os.Stdout, msg)
		AddReportEntry("propagation", msg)

		By("the sidecar reports the hash the operator published")
		Eventually(func() string {
			Expect(k8sClient.Get(bg, key(route), route)).To(Succeed())
			return route.Status.ConfigHash
		}).Should(Equal(configzHash("http://" + debug + "/configz")))

		By("still enforcing tokens after the updates")
		Expect(status(base+"/my/profile", "")).To(Equal(http.StatusUnauthorized))
		Expect(status(base+"/my/profile", token)).To(Equal(http.StatusOK))

		By("refusing a configuration newer than it reads, keeping its own, and saying so on the route")
		inForce := configzHash("http://" + debug + "/configz")
		Expect(k8sClient.Get(bg, client.ObjectKey{Namespace: ns, Name: ObjectName(route.Name)}, cm)).To(Succeed())
		cm.Data[config.ConfigMapKey] = fmt.Sprintf(`{"version": %d}`, config.MaxVersion+1) // the operator repairs it soon after
		Expect(k8sClient.Update(bg, cm)).To(Succeed())
		Eventually(func() []string {
			var evs eventsv1.EventList
			Expect(k8sClient.List(bg, &evs, client.InNamespace(ns))).To(Succeed())
			var warnings []string
			for _, e := range evs.Items {
				if e.Reason == reload.EventReason && e.Regarding.UID == route.UID {
					warnings = append(warnings, e.Type)
				}
			}
			return warnings
		}).Should(Equal([]string{corev1.EventTypeWarning}))
		Expect(configzHash("http://" + debug + "/configz")).To(Equal(inForce))
		Expect(status(base+"/my/profile", token)).To(Equal(http.StatusOK))
	})
})
