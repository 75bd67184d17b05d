package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
)

// metrics is one scrape of a Prometheus endpoint.
type metrics map[string]*dto.MetricFamily

func parseMetrics(r io.Reader) (metrics, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(r)
}

// scrapeURL reads a /metrics endpoint over plain HTTP (the operator's).
func scrapeURL(ctx context.Context, url string) (metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return parseMetrics(resp.Body)
}

// scrapeAPIServer reads kube-apiserver's /metrics as an administrator.
func scrapeAPIServer(ctx context.Context, rc rest.Interface) (metrics, error) {
	body, err := rc.Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("kube-apiserver /metrics: %w", err)
	}
	return parseMetrics(strings.NewReader(string(body)))
}

// by sums the counter or gauge name over the series that carry every label
// in match, grouped by the value of label ("" groups everything under "").
func (m metrics) by(name, label string, match map[string]string) map[string]float64 {
	out := map[string]float64{}
	f := m[name]
	if f == nil {
		return out
	}
	for _, s := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range s.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if !matches(labels, match) {
			continue
		}
		v := s.GetCounter().GetValue() + s.GetGauge().GetValue()
		out[labels[label]] += v
	}
	return out
}

// sum is the total of by over every group.
func (m metrics) sum(name string, match map[string]string) float64 {
	return m.by(name, "", match)[""]
}

func matches(labels, match map[string]string) bool {
	for k, v := range match {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// delta subtracts before from after, group by group.
func delta(after, before map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// memory is a process's resident set from /proc: now and its high-water mark.
type memory struct{ rss, hwm int64 }

// readMemory reads VmRSS and VmHWM (bytes) of pid.
func readMemory(pid int) (memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, err
	}
	defer f.Close()
	var m memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return memory{}, fmt.Errorf("/proc/%d/status %s: %w", pid, key, err)
		}
		if key == "VmRSS" {
			m.rss = kb << 10
		} else {
			m.hwm = kb << 10
		}
	}
	return m, sc.Err()
}

// readiness counts the ProtectedRoutes whose Ready condition is True for
// their current generation, from a watch of its own (the benchmark's
// process, not the operator's).
type readiness struct {
	mu    sync.Mutex
	ready map[string]bool
}

// watchReadiness starts an informer on ProtectedRoutes that keeps only what
// readiness needs.
func watchReadiness(ctx context.Context, c cache.Cache) (*readiness, error) {
	r := &readiness{ready: map[string]bool{}}
	inf, err := c.GetInformer(ctx, &v1alpha1.ProtectedRoute{})
	if err != nil {
		return nil, err
	}
	_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    r.observe,
		UpdateFunc: func(_, o any) { r.observe(o) },
		DeleteFunc: func(o any) {
			if route, ok := o.(*v1alpha1.ProtectedRoute); ok {
				r.set(route.Namespace+"/"+route.Name, false)
			}
		},
	})
	return r, err
}

func findReady(conds []metav1.Condition) *metav1.Condition {
	return meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
}

func (r *readiness) observe(o any) {
	route, ok := o.(*v1alpha1.ProtectedRoute)
	if !ok {
		return
	}
	c := findReady(route.Status.Conditions)
	r.set(route.Namespace+"/"+route.Name, c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == route.Generation)
}

func (r *readiness) set(key string, ready bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ready {
		r.ready[key] = true
	} else {
		delete(r.ready, key)
	}
}

func (r *readiness) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ready)
}

// routeStatusOnly keeps a watched route's name, generation and conditions.
func routeStatusOnly(in any) (any, error) {
	route, ok := in.(*v1alpha1.ProtectedRoute)
	if !ok {
		return in, nil
	}
	return &v1alpha1.ProtectedRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: route.Namespace, Name: route.Name, Generation: route.Generation, ResourceVersion: route.ResourceVersion},
		Status:     v1alpha1.ProtectedRouteStatus{Conditions: route.Status.Conditions},
	}, nil
}

// poll calls done every interval until it returns true, ctx ends or
// timeout passes.
func poll(ctx context.Context, interval, timeout time.Duration, what string, done func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not done after %s", what, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}
