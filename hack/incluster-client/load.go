package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// loadOptions describe a load run: one URL called at a fixed rate.
type loadOptions struct {
	method, url, bearerFile string
	hdrs                    []string
	rate                    float64
	duration                time.Duration
	untilStdinCloses        bool
	expect                  int
	keepAlive               bool
	timeout                 time.Duration
}

// loadResult counts the answers of a load run. A request failed when it got no
// answer (a transport error or a timeout) or an answer other than the expected one.
type loadResult struct {
	mu       sync.Mutex
	sent     int
	statuses map[int]int
	errors   map[string]int
	failures []string // the first few, with their time since the start
}

const keptFailures = 10

func (r *loadResult) record(at time.Duration, status int, err error, expect int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var failure string
	if err != nil {
		msg := err.Error()
		r.errors[msg]++
		failure = msg
	} else {
		r.statuses[status]++
		if !wanted(status, expect) {
			failure = fmt.Sprintf("status %d", status)
		}
	}
	if failure != "" && len(r.failures) < keptFailures {
		r.failures = append(r.failures, fmt.Sprintf("%.1fs %s", at.Seconds(), failure))
	}
}

func wanted(status, expect int) bool {
	if expect != 0 {
		return status == expect
	}
	return status < 400
}

// failed counts the requests without an answer or with an unwanted one.
func (r *loadResult) failed(expect int) int {
	n := 0
	for _, c := range r.errors {
		n += c
	}
	for s, c := range r.statuses {
		if !wanted(s, expect) {
			n += c
		}
	}
	return n
}

// runLoad sends requests at o.rate per second until o.duration has passed (or,
// with untilStdinCloses, stdin is closed first: a script keeps the load running
// while it changes the cluster), waits for those in flight and prints one summary
// line, for example:
//
//	load: 1500 requests in 60.0s at 25/s, 0 failed; status 200=1500
func runLoad(ctx context.Context, o loadOptions) bool {
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	if o.untilStdinCloses {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			cancel()
		}()
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DisableKeepAlives = !o.keepAlive
	transport.MaxIdleConnsPerHost = 64
	client := &http.Client{Timeout: o.timeout, Transport: transport}

	res := &loadResult{statuses: map[int]int{}, errors: map[string]int{}}
	start := time.Now()
	tick := time.NewTicker(time.Duration(float64(time.Second) / o.rate))
	defer tick.Stop()
	// Not ctx for the requests: one sent before the end gets its whole timeout.
	requests := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			res.mu.Lock()
			res.sent++
			res.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				status, _, err := once(requests, client, o.method, o.url, o.hdrs, o.bearerFile)
				res.record(time.Since(start), status, err, o.expect)
			}()
		}
	}
	elapsed := time.Since(start)
	wg.Wait()
	failed := res.failed(o.expect)
	fmt.Printf("load: %d requests in %.1fs at %g/s, %d failed; %s\n", res.sent, elapsed.Seconds(), o.rate, failed, res.summary())
	for _, f := range res.failures {
		fmt.Printf("load: failure at %s\n", f)
	}
	return failed == 0
}

// summary lists the statuses and errors with their counts, in a stable order.
func (r *loadResult) summary() string {
	var parts []string
	for _, s := range sortedKeys(r.statuses) {
		parts = append(parts, fmt.Sprintf("status %d=%d", s, r.statuses[s]))
	}
	for _, m := range sortedKeys(r.errors) {
		parts = append(parts, fmt.Sprintf("error %q=%d", m, r.errors[m]))
	}
	if len(parts) == 0 {
		return "no answers"
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}
