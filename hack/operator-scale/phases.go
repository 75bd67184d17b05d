package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Operator metrics the phases read.
const (
	reconcileTotal = "controller_runtime_reconcile_total"
	queueDepth     = "workqueue_depth"
	restRequests   = "rest_client_requests_total"
	objectWrites   = "jwtgate_operator_object_writes_total"
	heapInUse      = "go_memstats_heap_inuse_bytes"
	cpuSeconds     = "process_cpu_seconds_total"
	// apiserverRequests is kube-apiserver's own count, by verb and resource.
	apiserverRequests = "apiserver_request_total"
	routeController   = "protectedroute"
	// quiet is how long the reconcile counters must stand still, with an
	// empty queue, for the operator to count as idle.
	quiet = 3 * time.Second
)

// result is what one phase measured.
type result struct {
	name   string
	routes int // routes in the cluster during the phase
	// created is how long creating the phase's objects took (0: none).
	created time.Duration
	// ready: from the phase's start until every route was Ready.
	ready time.Duration
	// busy: from the phase's start until the last route reconcile.
	busy time.Duration
	// reconciling: from the first route reconcile seen to the last (a
	// restarted operator first fills its caches).
	reconciling       time.Duration
	reconciles        float64
	reconcileErrors   float64
	authorizerRecons  float64
	requestsByMethod  map[string]float64 // the operator's own API requests
	objectWrites      map[string]float64 // jwtgate_operator_object_writes_total by op
	apiWritesByObject map[string]float64 // the API server's write requests by resource
	mem               memory             // at rest after the phase
	peakRSS           int64              // highest VmRSS sampled during the phase
	heap              float64
	cpu               float64 // the operator's CPU seconds in the phase
}

// grow creates routes until there are total of them, with the operator
// running, and waits until every route is Ready and the operator is idle.
func (b *bench) grow(ctx context.Context, total int) (result, error) {
	r := result{name: fmt.Sprintf("grow to %d", total), routes: total}
	before, apiBefore, err := b.snapshots(ctx)
	if err != nil {
		return r, err
	}
	peak := b.sampleRSS(ctx)
	start := time.Now()
	from := b.created
	err = createAll(ctx, b.c, b.o.workers, total-from, func(i int) []client.Object {
		return routeObjects(from+i, b.o.namespaces, b.o.services)
	})
	if err != nil {
		return r, err
	}
	b.created = total
	r.created = time.Since(start)
	logf("created %d routes in %s; waiting until all %d are Ready", total-from, r.created.Round(time.Millisecond), total)
	progress := time.Now()
	err = poll(ctx, 200*time.Millisecond, b.o.timeout, fmt.Sprintf("%d routes Ready", total), func() (bool, error) {
		n := b.ready.count()
		if time.Since(progress) >= 15*time.Second {
			progress = time.Now()
			m, _ := readMemory(b.st.OperatorPID())
			logf("%d of %d routes Ready after %s; operator RSS %s", n, total, time.Since(start).Round(time.Second), mib(m.rss))
		}
		return n >= total, nil
	})
	if err != nil {
		return r, err
	}
	r.ready = time.Since(start)
	minReconciles := before.sum(reconcileTotal, map[string]string{"controller": routeController}) + float64(total-from)
	// The running operator starts on the first route as soon as it exists.
	return b.settle(ctx, r, start, start, before, apiBefore, minReconciles, peak)
}

// restart stops the operator and starts it again: every route is
// reconciled again with nothing changed, which must write nothing.
func (b *bench) restart(ctx context.Context) (result, error) {
	r := result{name: fmt.Sprintf("restart at %d", b.created), routes: b.created}
	_, apiBefore, err := b.snapshots(ctx)
	if err != nil {
		return r, err
	}
	b.st.StopOperator()
	start := time.Now()
	if err := b.st.StartOperator(ctx); err != nil {
		return r, err
	}
	logf("operator restarted (pid %d); waiting until it has reconciled all %d routes", b.st.OperatorPID(), b.created)
	peak := b.sampleRSS(ctx)
	r.ready = time.Since(start) // every route stayed Ready
	return b.settle(ctx, r, start, time.Time{}, metrics{}, apiBefore, float64(b.created), peak)
}

// snapshots scrapes the operator's and the API server's metrics.
func (b *bench) snapshots(ctx context.Context) (operator, api metrics, err error) {
	if operator, err = scrapeURL(ctx, "http://"+b.st.OperatorMetrics+"/metrics"); err != nil {
		return nil, nil, err
	}
	api, err = scrapeAPIServer(ctx, b.api.CoreV1().RESTClient())
	return operator, api, err
}

// settle waits until the operator has done at least minReconciles route
// reconciles in all and is idle, then fills in r from the metrics'
// differences since before and apiBefore. first is when the phase's first
// route reconcile began; zero means it is seen in the metrics.
func (b *bench) settle(ctx context.Context, r result, start, first time.Time, before, apiBefore metrics, minReconciles float64, peak func() int64) (result, error) {
	routes := map[string]string{"controller": routeController}
	var after metrics
	last, lastChange := -1.0, time.Now()
	err := poll(ctx, 500*time.Millisecond, b.o.timeout, r.name+": operator idle", func() (bool, error) {
		m, err := scrapeURL(ctx, "http://"+b.st.OperatorMetrics+"/metrics")
		if err != nil {
			return false, err
		}
		after = m
		if first.IsZero() && m.sum(reconcileTotal, routes) > before.sum(reconcileTotal, routes) {
			first = time.Now()
		}
		n := m.sum(reconcileTotal, nil)
		if n != last {
			last, lastChange = n, time.Now()
		}
		return m.sum(reconcileTotal, routes) >= minReconciles && m.sum(queueDepth, map[string]string{"name": routeController}) == 0 &&
			time.Since(lastChange) >= quiet, nil
	})
	if err != nil {
		return r, err
	}
	_, apiAfter, err := b.snapshots(ctx)
	if err != nil {
		return r, err
	}
	r.busy = lastChange.Sub(start)
	r.reconciling = lastChange.Sub(first)
	recs := delta(after.by(reconcileTotal, "result", routes), before.by(reconcileTotal, "result", routes))
	r.reconciles = recs["success"] + recs["error"] + recs["requeue"] + recs["requeue_after"]
	r.reconcileErrors = recs["error"]
	r.authorizerRecons = after.sum(reconcileTotal, map[string]string{"controller": "jwtauthorizer"}) -
		before.sum(reconcileTotal, map[string]string{"controller": "jwtauthorizer"})
	r.requestsByMethod = delta(after.by(restRequests, "method", nil), before.by(restRequests, "method", nil))
	r.objectWrites = delta(after.by(objectWrites, "op", nil), before.by(objectWrites, "op", nil))
	r.apiWritesByObject = apiWrites(apiAfter, apiBefore)
	r.heap = after.sum(heapInUse, nil)
	r.cpu = after.sum(cpuSeconds, nil) - before.sum(cpuSeconds, nil)
	if r.mem, err = readMemory(b.st.OperatorPID()); err != nil {
		return r, err
	}
	r.peakRSS = max(peak(), r.mem.rss)
	logf("%s: %.0f route reconciles, idle %s after the start; RSS %s", r.name, r.reconciles, r.busy.Round(time.Millisecond), mib(r.mem.rss))
	return r, nil
}

// writeVerbs are the API server's verbs that change something.
var writeVerbs = []string{"POST", "PUT", "PATCH", "DELETE", "APPLY"}

// apiWrites is the API server's write requests between two scrapes, by
// resource[/subresource]. Leases are left out: the API server renews its
// own every few seconds, whoever else is there.
func apiWrites(after, before metrics) map[string]float64 {
	out := map[string]float64{}
	for _, verb := range writeVerbs {
		for _, sub := range []string{"", "status"} {
			match := map[string]string{"verb": verb, "subresource": sub}
			for res, n := range delta(after.by(apiserverRequests, "resource", match), before.by(apiserverRequests, "resource", match)) {
				if res == "leases" {
					continue
				}
				if sub != "" {
					res += "/" + sub
				}
				out[res] += n
			}
		}
	}
	return out
}

// sampleRSS samples the operator's VmRSS every 250 ms until ctx ends and
// returns a function that reports the highest sample so far.
func (b *bench) sampleRSS(ctx context.Context) func() int64 {
	var mu sync.Mutex
	var highest int64
	pid := b.st.OperatorPID()
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			if m, err := readMemory(pid); err == nil {
				mu.Lock()
				highest = max(highest, m.rss)
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		cancel()
		mu.Lock()
		defer mu.Unlock()
		return highest
	}
}
