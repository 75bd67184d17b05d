package main

import (
	"bufio"
	"context"
	_ "embed"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

//go:embed wrk.lua
var wrkScript []byte

// throughput is one closed-loop wrk run's outcome.
type throughput struct {
	requests int64
	perSec   float64
	statuses map[int]int64
	errors   string // non-empty when wrk saw socket errors or timeouts
	failures int64  // their count
}

// runWrk drives url with conns connections from one wrk thread pinned to
// cpu for d, sending the headers in tokenFile in turn.
func runWrk(ctx context.Context, cpu, script, url, tokenFile string, conns int, d time.Duration) (throughput, error) {
	cmd := exec.CommandContext(ctx, "taskset", "-c", cpu, "wrk", "-t1", "-c", strconv.Itoa(conns),
		"-d", fmt.Sprintf("%ds", int(d.Round(time.Second).Seconds())), "--timeout", "10s", "-s", script, url, "--", tokenFile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return throughput{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	res := throughput{statuses: map[int]int64{}}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 3 && f[0] == "status":
			code, _ := strconv.Atoi(f[1])
			n, _ := strconv.ParseInt(f[2], 10, 64)
			res.statuses[code] += n
			res.requests += n
		case len(f) == 5 && f[0] == "errors":
			for _, v := range f[1:] {
				n, _ := strconv.ParseInt(v, 10, 64)
				res.failures += n
			}
			if res.failures > 0 {
				res.errors = "connect/read/write/timeout errors " + strings.Join(f[1:], "/")
			}
		case len(f) == 2 && f[0] == "Requests/sec:":
			res.perSec, _ = strconv.ParseFloat(f[1], 64)
		}
	}
	if res.requests == 0 || res.perSec == 0 {
		return res, fmt.Errorf("no answer in %s (%s)", d, strings.TrimSpace(res.errors))
	}
	return res, nil
}

// latency is one open-loop run at a fixed rate.
type latency struct {
	requests       int64
	p50, p99, p999 time.Duration
	statuses       map[int]int64
	errors         int64
	achievedRate   float64
	firstError     string
}

// runLatency sends rate requests a second for d (vegeta, open loop: a
// slow answer does not slow the schedule), cycling through headers.
func runLatency(url string, headers []string, rate int, d time.Duration) latency {
	var i atomic.Int64
	targeter := func(t *vegeta.Target) error {
		h := headers[int(i.Add(1))%len(headers)]
		t.Method, t.URL, t.Header = http.MethodGet, url, http.Header{}
		if h != "" {
			t.Header.Set("Authorization", h)
		}
		return nil
	}
	// Bounded workers: a peer that cannot keep up gets a queue, not an
	// ever-growing crowd of connections (its figures are marked as such).
	attacker := vegeta.NewAttacker(vegeta.KeepAlive(true), vegeta.Workers(64), vegeta.MaxWorkers(128),
		vegeta.Connections(128), vegeta.MaxConnections(128), vegeta.Timeout(10*time.Second))
	res := latency{statuses: map[int]int64{}}
	var lat []time.Duration
	var first, last time.Time
	for r := range attacker.Attack(targeter, vegeta.Rate{Freq: rate, Per: time.Second}, d, "latency") {
		res.requests++
		if first.IsZero() || r.Timestamp.Before(first) {
			first = r.Timestamp
		}
		if r.Timestamp.After(last) {
			last = r.Timestamp
		}
		// vegeta reports a non-2xx answer as an error too; only a missing
		// answer (code 0) is one here, the status is checked by the caller.
		if r.Code == 0 {
			res.errors++
			if res.firstError == "" {
				res.firstError = r.Error
			}
			continue
		}
		res.statuses[int(r.Code)]++
		lat = append(lat, r.Latency)
	}
	if span := last.Sub(first).Seconds(); span > 0 {
		res.achievedRate = float64(res.requests-1) / span
	}
	slices.Sort(lat)
	res.p50, res.p99, res.p999 = quantile(lat, 0.50), quantile(lat, 0.99), quantile(lat, 0.999)
	return res
}

// overloaded: the peer did not keep the rate, or answers were lost, so
// its latency figures measure a queue.
func (l latency) overloaded(rate int) bool {
	return l.errors > 0 || l.achievedRate < 0.95*float64(rate)
}

// settle waits until url answers within a second again (a run may leave
// the peer with a backlog), for at most 30 s.
func settle(ctx context.Context, url string) {
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil) //nolint:gosec // a loopback peer this benchmark started
		res, err := client.Do(req)                                          //nolint:gosec // the same
		if err == nil {
			_ = res.Body.Close()
			time.Sleep(500 * time.Millisecond)
			return
		}
	}
}

// quantile is the nearest-rank quantile of sorted.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
