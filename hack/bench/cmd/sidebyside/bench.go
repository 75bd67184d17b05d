package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jwtgate/jwtgate/hack/bench/token"
)

// sample is one peer's figures for one scenario in one round.
type sample struct {
	round      int
	cpuPerReq  float64 // µs of proxy CPU per request
	perSec     float64
	requests   int64 // throughput and latency runs together
	unexpected int64 // responses with another status than expected, or errors
	lat        latency
	cacheHits  float64 // sidecar only
	cacheMiss  float64
}

type memorySample struct {
	round      int
	idle, peak int64
}

type bench struct {
	o        *options
	env      *env
	tokens   *tokens
	upstream *process
	script   string

	samples map[string]map[string][]sample // peer → scenario → rounds
	memory  map[string][]memorySample
	checks  map[string]checkResult
	skipped map[string]string // peer → why it was not measured
	failed  []string          // runs that produced no figure, and why
	sig     []sigCost
	loads   []string
}

func newBench(ctx context.Context, o *options) (*bench, error) {
	dir, err := os.MkdirTemp("", "jwtgate-bench-")
	if err != nil {
		return nil, err
	}
	// Apache drops to www-data and must still read the issuer's CA file here.
	if err := os.Chmod(dir, 0o755); err != nil { //nolint:gosec // holds only throwaway benchmark keys' public halves and configs
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	b := &bench{o: o, samples: map[string]map[string][]sample{}, memory: map[string][]memorySample{},
		checks: map[string]checkResult{}, skipped: map[string]string{}}
	b.env = &env{proxyCPU: o.proxyCPU, sidecar: o.sidecar, oauth2: o.oauth2, apache: o.apache, apacheMod: o.apacheMods, dir: dir, self: self}
	keys, err := token.NewKeys()
	if err != nil {
		return nil, err
	}
	b.env.keys = keys
	if b.env.issuer, err = startIssuer(func(string) []byte { return keys.JWKS() }, dir); err != nil {
		return nil, err
	}
	upAddr, err := freePort()
	if err != nil {
		return nil, err
	}
	if b.upstream, err = startPinned("upstream", o.loadCPU, filepath.Join(dir, "upstream.log"), self, "upstream", "-listen", upAddr); err != nil {
		return nil, err
	}
	b.env.upstream = "http://" + upAddr
	if err := waitHTTP(ctx, b.upstream, b.env.upstream+"/", 200); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "minting %d RS256 and %d ES256 tokens...\n", o.pool, o.pool)
	if b.tokens, err = mintTokens(keys, b.env.issuer.url, o.pool, dir); err != nil {
		return nil, err
	}
	b.script = filepath.Join(dir, "wrk.lua")
	return b, os.WriteFile(b.script, wrkScript, 0o600)
}

func (b *bench) close() {
	b.upstream.stop()
	_ = b.env.issuer.srv.Close()
	_ = b.env.issuer.tls.Close()
	if !b.o.keepScratch {
		_ = os.RemoveAll(b.env.dir)
	} else {
		fmt.Fprintln(os.Stderr, "scratch kept in", b.env.dir)
	}
}

// run measures every peer in every round; the order of the peers rotates
// from round to round so slow drifts of the machine spread over all.
func (b *bench) run(ctx context.Context, ps []peer) (string, error) {
	for round := range b.o.rounds {
		b.loads = append(b.loads, loadAverage())
		cost, err := measureSignature(ctx, b.env.self, b.o.proxyCPU)
		if err != nil {
			return "", err
		}
		b.sig = append(b.sig, cost)
		for i := range ps {
			p := ps[(i+round)%len(ps)]
			if _, skip := b.skipped[p.name]; skip {
				continue
			}
			fmt.Fprintf(os.Stderr, "round %d/%d: %s (load %s)\n", round+1, b.o.rounds, p.name, loadAverage())
			if err := b.measure(ctx, p, round); err != nil {
				return "", fmt.Errorf("round %d, %s: %w", round+1, p.name, err)
			}
		}
		b.loads[round] += " → " + loadAverage()
	}
	return b.report(ps), nil
}

// measure starts p, reads its idle memory, checks it, runs every scenario
// and reads its peak memory.
func (b *bench) measure(ctx context.Context, p peer, round int) error {
	base := b.env.upstream
	var r *running
	if p.start != nil {
		dir := filepath.Join(b.env.dir, fmt.Sprintf("%s-%d", strings.Fields(p.name)[0], round))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		var err error
		if r, err = p.start(ctx, b.env, dir); err != nil {
			if r != nil {
				r.proc.stop()
			}
			return err
		}
		defer r.proc.stop()
		base = r.base
		time.Sleep(b.o.idle)
		idle, _ := memory(r.proc.pid())
		b.memory[p.name] = append(b.memory[p.name], memorySample{round: round, idle: idle})
	}
	expect := map[string]int{scenarioForward: 200, scenarioSame: 200, scenarioDistinctRS: 200, scenarioDistinctES: 200}
	if p.auth {
		res, err := runChecks(ctx, base, b.tokens)
		if err != nil {
			return err
		}
		if round == 0 {
			b.checks[p.name] = res
		}
		if len(res.failed) > 0 {
			b.skipped[p.name] = "failed its checks: " + strings.Join(res.failed, "; ")
			fmt.Fprintf(os.Stderr, "%s not measured: %s\n", p.name, b.skipped[p.name])
			return nil
		}
		expect[scenarioNoToken], expect[scenarioBadSig] = res.noToken, res.badSignature
	}
	if b.samples[p.name] == nil {
		b.samples[p.name] = map[string][]sample{}
	}
	for _, sc := range p.scenarios {
		s, err := b.scenario(ctx, r, base, sc, expect[sc])
		if err != nil {
			if r != nil && r.proc.exited() != nil {
				return fmt.Errorf("%s: %w", sc, err)
			}
			// One run that yields nothing (an overloaded peer) costs that
			// figure, not the whole report.
			b.failed = append(b.failed, fmt.Sprintf("round %d, %s, %s: %v", round+1, p.name, sc, err))
			fmt.Fprintf(os.Stderr, "  %s: no figure: %v\n", sc, err)
			continue
		}
		s.round = round
		b.samples[p.name][sc] = append(b.samples[p.name][sc], s)
	}
	if r != nil {
		_, peak := memory(r.proc.pid())
		b.memory[p.name][len(b.memory[p.name])-1].peak = peak
	}
	return nil
}

func (b *bench) scenario(ctx context.Context, r *running, base, sc string, want int) (sample, error) {
	var s sample
	hits0, miss0 := cacheCounters(r)
	var cpu0 time.Duration
	if r != nil {
		cpu0 = cpuTime(r.proc.pid())
	}
	tp, err := runWrk(ctx, b.o.loadCPU, b.script, base+path, b.tokens.files[sc], b.o.conns, b.o.duration)
	if err != nil {
		return s, err
	}
	if r != nil {
		if err := r.proc.exited(); err != nil {
			return s, err
		}
		s.cpuPerReq = float64((cpuTime(r.proc.pid()) - cpu0).Microseconds()) / float64(tp.requests)
	}
	hits1, miss1 := cacheCounters(r)
	s.cacheHits, s.cacheMiss = hits1-hits0, miss1-miss0
	s.perSec = tp.perSec
	s.requests = tp.requests
	s.unexpected = tp.requests - tp.statuses[want]
	if tp.errors != "" {
		s.unexpected += tp.failures
		fmt.Fprintf(os.Stderr, "  %s: wrk %s\n", sc, tp.errors)
	}
	settle(ctx, base+path)
	s.lat = runLatency(base+path, b.tokens.headers(sc), b.o.rate, b.o.latencyDur)
	settle(ctx, base+path)
	s.requests += s.lat.requests
	s.unexpected += s.lat.requests - s.lat.statuses[want]
	if s.lat.firstError != "" {
		fmt.Fprintf(os.Stderr, "  %s: latency run: %d errors, first: %s\n", sc, s.lat.errors, s.lat.firstError)
	}
	if s.unexpected > 0 {
		fmt.Fprintf(os.Stderr, "  %s: %d unexpected answers (want %d): wrk %v, latency %v\n", sc, s.unexpected, want, tp.statuses, s.lat.statuses)
	}
	fmt.Fprintf(os.Stderr, "  %-36s %8.0f req/s %7.1f µs CPU/req  p99 %v\n", sc, s.perSec, s.cpuPerReq, s.lat.p99)
	return s, nil
}

// cacheCounters reads the sidecar's verified-token cache hits and misses.
func cacheCounters(r *running) (hits, misses float64) {
	if r == nil || r.metrics == "" {
		return 0, 0
	}
	res, err := http.Get(r.metrics) //nolint:gosec,noctx // loopback admin port of the process under test
	if err != nil {
		return 0, 0
	}
	defer func() { _ = res.Body.Close() }()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		name, _, _ := strings.Cut(f[0], "{")
		switch name {
		case "jwtgate_sidecar_token_cache_hits_total":
			hits += v
		case "jwtgate_sidecar_token_cache_misses_total":
			misses += v
		}
	}
	return hits, misses
}
