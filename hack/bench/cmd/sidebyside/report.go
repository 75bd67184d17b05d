package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

const (
	l1Name      = "L1 bare Go reverse proxy"
	jwtgate1    = "jwtgate 1 rule"
	jwtgate100  = "jwtgate 100 rules"
	oauth2Name  = "oauth2-proxy v7.15.6"
	apacheName  = "Apache + mod_auth_openidc"
	mib         = 1 << 20
	cacheCapMiB = 8 // the sidecar's default --token-cache-bytes
)

// spread is a median with the min and max it was taken from.
type spread struct{ med, lo, hi float64 }

func stats(xs []float64) spread {
	if len(xs) == 0 {
		return spread{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return spread{med, s[0], s[len(s)-1]}
}

func (s spread) format(unit string, prec int) string {
	if s.lo == s.hi {
		return fmt.Sprintf("%.*f%s", prec, s.med, unit)
	}
	return fmt.Sprintf("%.*f%s (%.*f–%.*f)", prec, s.med, unit, prec, s.lo, prec, s.hi)
}

// at is peer's sample of scenario in round.
func (b *bench) at(peer, scenario string, round int) (sample, bool) {
	for _, s := range b.samples[peer][scenario] {
		if s.round == round {
			return s, true
		}
	}
	return sample{}, false
}

// perRound applies f to each round's sample of peer/scenario and L1's in
// the same round.
func (b *bench) perRound(peer, scenario string, f func(s, l1 sample, round int) float64) []float64 {
	var out []float64
	for _, s := range b.samples[peer][scenario] {
		if l1, ok := b.at(l1Name, scenarioForward, s.round); ok {
			out = append(out, f(s, l1, s.round))
		}
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (b *bench) report(ps []peer) string {
	var w strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&w, format, a...) }
	host, _ := os.Hostname()
	p("## Side by side: %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	p("- machine: %s, %d CPUs (%s); %s\n", cpuModel(), cpuCount(), host, runtime.Version())
	p("- proxy pinned to CPU %s; wrk, vegeta and the upstream to CPU %s\n", b.o.proxyCPU, b.o.loadCPU)
	p("- %d rounds; throughput: wrk, 1 thread, %d connections, %s a run; latency: vegeta at %d req/s for %s\n",
		b.o.rounds, b.o.conns, b.o.duration, b.o.rate, b.o.latencyDur)
	p("- load average (1, 5, 15 min) at the start → end of each round: %s\n", strings.Join(b.loads, "; "))
	p("- token: `GET %s`, RS256 %d bytes, ES256 %d bytes; distinct-token runs cycle through %d tokens per algorithm\n",
		path, len(b.tokens.same), len(b.tokens.sameES), len(b.tokens.rs))
	rs, es := b.sigStats()
	p("- signature check alone (jwx, this token, CPU %s): RS256 %s, ES256 %s\n\n", b.o.proxyCPU, rs.format(" µs", 1), es.format(" µs", 1))
	for name, why := range b.skipped {
		p("**%s was not measured**: %s.\n\n", name, why)
	}
	for _, f := range b.failed {
		p("- no figure from %s\n", f)
	}
	if len(b.failed) > 0 {
		p("\n")
	}

	p("### Per request (medians over rounds, min–max in brackets; ratios to L1 in the same round)\n\n")
	p("⚠n/m after a p99: in n of m rounds the peer could not keep %d req/s (or lost answers), so its latencies there are a queue's.\n\n", b.o.rate)
	p("| proxy | configuration | CPU µs/req | CPU ×L1 | req/s | req/s ×L1 | p50 ms | p99 ms | p99.9 ms | p99 − L1 p99 ms | responses checked | unexpected | token cache hits |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, peer := range ps {
		for _, sc := range peer.scenarios {
			samples := b.samples[peer.name][sc]
			if len(samples) == 0 {
				continue
			}
			col := func(f func(s sample) float64) spread {
				var xs []float64
				for _, s := range samples {
					xs = append(xs, f(s))
				}
				return stats(xs)
			}
			cpu, cpuRatio := "–", "–"
			if peer.start != nil {
				cpu = col(func(s sample) float64 { return s.cpuPerReq }).format("", 1)
				cpuRatio = stats(b.perRound(peer.name, sc, func(s, l1 sample, _ int) float64 { return s.cpuPerReq / l1.cpuPerReq })).format("", 2)
			}
			var total, unexpected int64
			for _, s := range samples {
				total += s.requests
				unexpected += s.unexpected
			}
			hits := "–"
			if h := col(func(s sample) float64 { return s.cacheHits + s.cacheMiss }); h.med > 0 {
				hits = col(func(s sample) float64 { return 100 * s.cacheHits / max(1, s.cacheHits+s.cacheMiss) }).format(" %", 1)
			}
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %d | %s |\n", peer.name, sc, cpu, cpuRatio,
				col(func(s sample) float64 { return s.perSec }).format("", 0),
				stats(b.perRound(peer.name, sc, func(s, l1 sample, _ int) float64 { return s.perSec / l1.perSec })).format("", 2),
				col(func(s sample) float64 { return ms(s.lat.p50) }).format("", 3),
				col(func(s sample) float64 { return ms(s.lat.p99) }).format("", 3)+overloadMark(samples, b.o.rate),
				col(func(s sample) float64 { return ms(s.lat.p999) }).format("", 3),
				stats(b.perRound(peer.name, sc, func(s, l1 sample, _ int) float64 { return ms(s.lat.p99 - l1.lat.p99) })).format("", 3),
				total, unexpected, hits)
		}
	}

	p("\n### Memory (idle: VmRSS after start and %s idle; peak: VmHWM after all its runs)\n\n", b.o.idle)
	p("| proxy | idle RSS MiB | idle ×L1 | peak RSS MiB | peak ×L1 |\n|---|---|---|---|---|\n")
	l1mem := map[int]memorySample{}
	for _, m := range b.memory[l1Name] {
		l1mem[m.round] = m
	}
	for _, peer := range ps {
		m := b.memory[peer.name]
		if peer.start == nil || len(m) == 0 {
			continue
		}
		var idle, peak, idleR, peakR []float64
		for _, s := range m {
			idle, peak = append(idle, float64(s.idle)/mib), append(peak, float64(s.peak)/mib)
			if l1, ok := l1mem[s.round]; ok {
				idleR, peakR = append(idleR, float64(s.idle)/float64(l1.idle)), append(peakR, float64(s.peak)/float64(l1.peak))
			}
		}
		p("| %s | %s | %s | %s | %s |\n", peer.name, stats(idle).format("", 1), stats(idleR).format("", 2), stats(peak).format("", 1), stats(peakR).format("", 2))
	}

	b.writeChecks(&w, ps)
	b.writeTargets(&w)
	return w.String()
}

// overloadMark flags latency figures taken while the peer could not keep
// the fixed rate in some round: they measure its queue, not a request.
func overloadMark(samples []sample, rate int) string {
	n := 0
	for _, s := range samples {
		if s.lat.overloaded(rate) {
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" ⚠%d/%d", n, len(samples))
}

func (b *bench) sigStats() (rs, es spread) {
	var r, e []float64
	for _, c := range b.sig {
		r, e = append(r, c.RS256), append(e, c.ES256)
	}
	return stats(r), stats(e)
}

func (b *bench) writeChecks(w *strings.Builder, ps []peer) {
	var names []string
	for _, peer := range ps {
		if _, ok := b.checks[peer.name]; ok {
			names = append(names, peer.name)
		}
	}
	fmt.Fprintf(w, "\n### What each peer checks (status answered; ✗ where a correct resource server would answer otherwise)\n\n")
	fmt.Fprintf(w, "| request | should be | %s |\n|---|---|%s\n", strings.Join(names, " | "), strings.Repeat("---|", len(names)))
	for _, pr := range probes {
		should := "refused"
		if pr.accept {
			should = "accepted"
		}
		row := []string{pr.name, should}
		for _, n := range names {
			code := b.checks[n].status[pr.name]
			cell := fmt.Sprintf("%d", code)
			if (code == 200) != pr.accept {
				cell += " ✗"
			}
			row = append(row, cell)
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
}

func (b *bench) writeTargets(w *strings.Builder) {
	fmt.Fprintf(w, "\n### Targets (jwtgate, 1 rule unless stated)\n\n| target | figure (median, min–max) | met |\n|---|---|---|\n")
	row := func(target string, s spread, unit string, prec int, ok bool) {
		met := "no"
		if ok {
			met = "yes"
		}
		if s == (spread{}) {
			fmt.Fprintf(w, "| %s | not measured | – |\n", target)
			return
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", target, s.format(unit, prec), met)
	}
	ratio := func(peer, sc string, f func(s sample) float64) spread {
		return stats(b.perRound(peer, sc, func(s, l1 sample, _ int) float64 { return f(s) / f(l1) }))
	}
	tp := ratio(jwtgate1, scenarioSame, func(s sample) float64 { return s.perSec })
	row("same token: throughput ≥ 0.9 × L1", tp, " × L1", 2, tp.med >= 0.9)
	capacity := ratio(jwtgate1, scenarioSame, func(s sample) float64 { return 1 / s.cpuPerReq })
	row("same token: throughput ≥ 0.9 × L1, as capacity of a dedicated core (L1's CPU per request ÷ jwtgate's)", capacity, " × L1", 2, capacity.med >= 0.9)
	cpu := ratio(jwtgate1, scenarioSame, func(s sample) float64 { return s.cpuPerReq })
	row("same token: CPU per request ≤ 1.15 × L1", cpu, " × L1", 2, cpu.med <= 1.15)
	for _, d := range []struct {
		sc  string
		sig func(c sigCost) float64
	}{{scenarioDistinctRS, func(c sigCost) float64 { return c.RS256 }}, {scenarioDistinctES, func(c sigCost) float64 { return c.ES256 }}} {
		extra := stats(b.perRound(jwtgate1, d.sc, func(s, l1 sample, i int) float64 {
			return s.cpuPerReq - l1.cpuPerReq - d.sig(b.sig[i])
		}))
		row(d.sc+": CPU per request ≤ L1 + signature + 10 µs", extra, " µs beyond L1 + signature", 1, extra.med <= 10)
	}
	// A loopback hop at this rate answers within a millisecond or so at p99 on
	// a core of its own; when L1's own p99 is far above that, the figure is
	// the machine's scheduling, and a 0.2 ms margin cannot be judged.
	var l1p99 []float64
	for _, s := range b.samples[l1Name][scenarioForward] {
		l1p99 = append(l1p99, ms(s.lat.p99))
	}
	busy := stats(l1p99).med > 5
	for _, sc := range []string{scenarioSame, scenarioDistinctRS, scenarioDistinctES} {
		d := stats(b.perRound(jwtgate1, sc, func(s, l1 sample, _ int) float64 { return ms(s.lat.p99 - l1.lat.p99) }))
		target := fmt.Sprintf("%s: p99 at %d req/s ≤ L1 p99 + 0.2 ms", sc, b.o.rate)
		if busy && d != (spread{}) {
			fmt.Fprintf(w, "| %s | %s | cannot tell: L1's own p99 is %.1f ms on this machine now |\n", target, d.format(" ms over L1", 3), stats(l1p99).med)
			continue
		}
		row(target, d, " ms over L1", 3, d.med <= 0.2)
	}
	for _, name := range []string{jwtgate1, jwtgate100} {
		var idle []float64
		for _, m := range b.memory[name] {
			idle = append(idle, float64(m.idle)/mib)
		}
		s := stats(idle)
		row(name+": idle RSS ≤ 16 MiB", s, " MiB", 1, s.med <= 16)
	}
	var peak []float64
	for _, m := range b.memory[jwtgate100] {
		peak = append(peak, float64(m.peak)/mib)
	}
	s := stats(peak)
	row(fmt.Sprintf("100 rules, after the distinct-token run: peak RSS ≤ 24 MiB + cache cap (%d MiB)", cacheCapMiB), s, " MiB", 1, s.med <= 24+cacheCapMiB)
	for _, peer := range []struct {
		name string
		min  float64
	}{{oauth2Name, 4}, {apacheName, 2.5}} {
		for _, sc := range []string{scenarioSame, scenarioDistinctRS, scenarioDistinctES} {
			var xs, byCPU []float64
			for _, s := range b.samples[jwtgate1][sc] {
				if theirs, ok := b.at(peer.name, sc, s.round); ok {
					xs = append(xs, s.perSec/theirs.perSec)
					byCPU = append(byCPU, theirs.cpuPerReq/s.cpuPerReq)
				}
			}
			r, c := stats(xs), stats(byCPU)
			row(fmt.Sprintf("%s: throughput ≥ %.1f × %s", sc, peer.min, peer.name), r, "×", 2, r.med >= peer.min)
			row(fmt.Sprintf("%s: the same, as capacity of a dedicated core (its CPU per request ÷ jwtgate's)", sc), c, "×", 2, c.med >= peer.min)
		}
	}
}

// cpuCount is the machine's CPUs (runtime.NumCPU sees only this
// process's affinity).
func cpuCount() int {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.NumCPU()
	}
	return strings.Count(string(raw), "\nprocessor") + 1
}

func cpuModel() string {
	out, err := exec.Command("lscpu").Output()
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "Model name:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
