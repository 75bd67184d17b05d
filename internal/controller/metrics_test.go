package controller

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// readyGauge reads jwtgate_operator_authorizer_ready for key: "1", "0" or
// "absent".
func readyGauge(key types.NamespacedName) func() string {
	return gaugeValue(authorizerReady, map[string]string{"namespace": key.Namespace, "name": key.Name})
}

// gaugeValue reads the series of gauge c with labels, or "absent".
func gaugeValue(c prometheus.Collector, labels map[string]string) func() string {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	return func() string {
		mfs, err := reg.Gather()
		Expect(err).NotTo(HaveOccurred())
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				have := map[string]string{}
				for _, l := range m.GetLabel() {
					have[l.GetName()] = l.GetValue()
				}
				if maps.Equal(have, labels) {
					return fmt.Sprint(m.GetGauge().GetValue())
				}
			}
		}
		return "absent"
	}
}

var _ = Describe("jwtgate_operator_authorizer_ready", func() {
	It("follows the key check and goes with the authorizer", func() {
		iss := newIssuer()
		a := colorsAuthorizer(newNamespace(), iss.URL)
		a.Spec.Algorithms = nil
		gauge := readyGauge(types.NamespacedName{Namespace: a.Namespace, Name: a.Name})
		iss.SetJWKSStatus(http.StatusServiceUnavailable)
		Expect(k8sClient.Create(bg, a)).To(Succeed())
		Eventually(gauge).Should(Equal("0"))
		iss.SetJWKSStatus(http.StatusOK)
		Eventually(gauge).Should(Equal("1"))
		Expect(k8sClient.Delete(bg, a)).To(Succeed())
		Eventually(gauge).Should(Equal("absent"))
	})
})

// A failed key check is a warning, not routine information.
func TestWarnLogsAtWarnLevel(t *testing.T) {
	var buf bytes.Buffer
	log := zap.New(zap.WriteTo(&buf), zap.JSONEncoder()).WithName("jwtauthorizer").WithValues("namespace", "colors")
	warn(log, "key check failed; will retry", "reason", "JWKSFetchFailed")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	if line["level"] != "warn" || line["namespace"] != "colors" || line["reason"] != "JWKSFetchFailed" || line["logger"] != "jwtauthorizer" {
		t.Fatalf("logged %s", buf.String())
	}
}
