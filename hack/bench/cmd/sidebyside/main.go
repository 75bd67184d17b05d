// Command sidebyside measures jwtgate's sidecar next to its peers on
// loopback: no proxy (L0), a bare Go reverse proxy (L1), the sidecar with 1
// and 100 rules, oauth2-proxy in bearer-token mode and Apache with
// mod_auth_openidc as an OAuth 2.0 resource server, all in front of the same
// fixed-response upstream. Each proxy runs pinned to one CPU, the load
// generators and the upstream to another. Before a peer is measured it must
// accept a good token and refuse bad ones; during load every response's
// status is checked. The primary figure is the proxy process's CPU time per
// request (utime+stime from /proc), as throughput is noisy on a shared
// machine; throughput (wrk, closed loop), latency at a fixed rate (vegeta,
// open loop) and idle and peak RSS complete it. Every figure is a ratio to
// L1 in the same round, rounds are interleaved, and the report gives
// medians with their min–max.
//
// Run it through `make bench` (hack/bench/bench.sh), which installs Apache,
// mod_auth_openidc and wrk and builds the sidecar and oauth2-proxy.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	var err error
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "upstream":
			err = serveUpstream(os.Args[2:])
		case "l1":
			err = serveL1(os.Args[2:])
		case "sigcost":
			err = printSignatureCost(os.Args[2:])
		default:
			err = run(os.Args[1:])
		}
	}
	if len(os.Args) <= 1 {
		err = run(nil)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sidebyside:", err)
		os.Exit(1)
	}
}

type options struct {
	rounds      int
	duration    time.Duration
	latencyDur  time.Duration
	idle        time.Duration
	rate        int
	conns       int
	pool        int
	proxyCPU    string
	loadCPU     string
	out         string
	sidecar     string
	oauth2      string
	apache      string
	apacheMods  string
	only        string
	keepScratch bool
}

func parseOptions(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("sidebyside", flag.ContinueOnError)
	fs.IntVar(&o.rounds, "rounds", 5, "interleaved rounds; figures are medians over them")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "length of each throughput run")
	fs.DurationVar(&o.latencyDur, "latency-duration", 0, "length of each fixed-rate latency run (default: -duration)")
	fs.DurationVar(&o.idle, "idle", 5*time.Second, "how long a started peer idles before its idle RSS is read")
	fs.IntVar(&o.rate, "rate", 1000, "requests per second of the latency runs")
	fs.IntVar(&o.conns, "connections", 32, "wrk connections of the throughput runs")
	fs.IntVar(&o.pool, "distinct-tokens", 12000, "tokens per algorithm the distinct-token runs cycle through (more than the sidecar's default cache holds)")
	fs.StringVar(&o.proxyCPU, "proxy-cpu", "0", "CPU the proxy under test is pinned to")
	fs.StringVar(&o.loadCPU, "load-cpu", "1", "CPU of the load generators and the upstream")
	fs.StringVar(&o.out, "out", "", "also write the Markdown report to this file")
	fs.StringVar(&o.sidecar, "sidecar", "", "jwtgate-sidecar binary (required)")
	fs.StringVar(&o.oauth2, "oauth2-proxy", "", "oauth2-proxy binary (required)")
	fs.StringVar(&o.apache, "apache", "/usr/sbin/apache2", "Apache httpd binary")
	fs.StringVar(&o.apacheMods, "apache-modules", "/usr/lib/apache2/modules", "directory of Apache's modules")
	fs.StringVar(&o.only, "only", "", "comma-separated substrings of the peer names to measure, e.g. jwtgate,Apache (L0 and L1 always run)")
	fs.BoolVar(&o.keepScratch, "keep", false, "keep the scratch directory (configs, logs) for inspection")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.latencyDur == 0 {
		o.latencyDur = o.duration
	}
	if o.sidecar == "" || o.oauth2 == "" {
		return nil, fmt.Errorf("-sidecar and -oauth2-proxy must name the built binaries (make bench builds them)")
	}
	if o.rounds < 1 || o.duration < time.Second || o.rate < 1 || o.conns < 1 || o.pool < 2 {
		return nil, fmt.Errorf("-rounds, -rate, -connections must be at least 1, -duration at least 1s, -distinct-tokens at least 2")
	}
	return o, nil
}

func run(args []string) error {
	o, err := parseOptions(args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := newBench(ctx, o)
	if err != nil {
		return err
	}
	defer b.close()
	only := map[string]bool{}
	for _, name := range strings.Split(o.only, ",") {
		if name = strings.TrimSpace(name); name != "" {
			only[name] = true
		}
	}
	report, err := b.run(ctx, peers(b.env, only))
	if err != nil {
		return err
	}
	fmt.Print(report)
	if o.out != "" {
		return os.WriteFile(o.out, []byte(report), 0o644) //nolint:gosec // a report meant to be read
	}
	return nil
}
