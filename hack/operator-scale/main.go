// Command operator-scale measures the operator at scale on a real API server:
// envtest's kube-apiserver and etcd, the real bin/manager as a process of its
// own (webhook on, as the stack runs it) and the development OIDC issuer on
// loopback. It spreads JWTAuthorizers and pods over namespaces, grows the
// ProtectedRoutes to each total in -routes, and after each total restarts the
// operator, so that every route is reconciled again unchanged. It prints
// Markdown tables: time until every route is Ready, reconciles per second,
// the operator's API requests per reconcile, its memory from /proc, and the
// writes the API server saw. `make bench-operator` runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/sidecar/memlimit"
	"github.com/jwtgate/jwtgate/test/stack"
)

type options struct {
	root        string
	totals      []int
	namespaces  int
	workers     int
	services    bool
	timeout     time.Duration
	operatorLog string
	// memoryLimit is the container limit the operator is run as if under.
	memoryLimit resource.Quantity
}

func main() {
	var o options
	routes := flag.String("routes", "1000,10000", "ProtectedRoute totals to grow to, in increasing order, comma-separated.")
	flag.StringVar(&o.root, "root", ".", "Repository root (config/, bin/ and hack/ are found there).")
	flag.IntVar(&o.namespaces, "namespaces", 100, "Namespaces; each holds one JWTAuthorizer and one pod, and routes are spread evenly over them.")
	flag.IntVar(&o.workers, "workers", 8, "Parallel clients that create the routes.")
	flag.BoolVar(&o.services, "services", true, "Create a headless Service in front of each route's pods, as an application would have.")
	flag.DurationVar(&o.timeout, "phase-timeout", 15*time.Minute, "Give up when a phase has not settled after this long.")
	flag.StringVar(&o.operatorLog, "operator-log", "bin/operator-scale-operator.log", "File that receives the operator's own log.")
	memoryLimit := flag.String("memory-limit", "256Mi", "Run the operator as under this container memory limit (the chart's), i.e. with GOMEMLIMIT at the share the operator gives the Go runtime; 0 runs it without a limit.")
	flag.Parse()
	var err error
	if o.memoryLimit, err = resource.ParseQuantity(*memoryLimit); err != nil {
		fmt.Fprintf(os.Stderr, "operator-scale: -memory-limit=%s: %v; write it as 256Mi\n", *memoryLimit, err)
		os.Exit(2)
	}
	if o.totals, err = parseTotals(*routes); err != nil {
		fmt.Fprintln(os.Stderr, "operator-scale:", err)
		os.Exit(2)
	}
	if o.namespaces < 1 || o.workers < 1 {
		fmt.Fprintln(os.Stderr, "operator-scale: -namespaces and -workers must be at least 1")
		os.Exit(2)
	}
	ctrllog.SetLogger(logr.Discard()) // the benchmark's own watch needs no log
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "operator-scale:", err)
		stop()
		os.Exit(1)
	}
}

// parseTotals reads -routes: positive, increasing totals.
func parseTotals(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("-routes=%s: want increasing positive totals such as 1000,10000", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func run(ctx context.Context, o options) error {
	logFile, err := os.Create(filepath.Join(o.root, o.operatorLog))
	if err != nil {
		return fmt.Errorf("-operator-log: %w", err)
	}
	defer logFile.Close()
	// The operator process inherits it; in a pod, the operator derives the
	// same value from its cgroup's limit.
	if limit := o.memoryLimit.Value(); limit > 0 {
		if err := os.Setenv("GOMEMLIMIT", strconv.FormatInt(int64(float64(limit)*memlimit.OperatorFraction), 10)); err != nil {
			return err
		}
	}
	pprofAddr, err := stack.FreeAddr()
	if err != nil {
		return err
	}
	st, err := stack.Start(ctx, stack.Options{
		Root: o.root, Log: os.Stderr, ProcessLog: logFile,
		// Key re-checks every 5 minutes would land inside the phases; the
		// restart phase re-checks every authorizer instead.
		OperatorArgs: []string{"--jwks-refresh-interval=1h", "--pprof-bind-address=" + pprofAddr},
	})
	if err != nil {
		return err
	}
	defer st.Stop()
	b, err := newBench(ctx, o, st, pprofAddr)
	if err != nil {
		return err
	}
	if err := b.setup(ctx); err != nil {
		return err
	}
	var results []result
	// What was measured is reported even when a later phase fails.
	defer func() { printReport(os.Stdout, o, results) }()
	for _, total := range o.totals {
		r, err := b.grow(ctx, total)
		if err != nil {
			return err
		}
		results = append(results, r)
		if err := b.saveHeapProfile(ctx, fmt.Sprintf("bin/operator-scale-heap-%d.pprof", total)); err != nil {
			return err
		}
		if r, err = b.restart(ctx); err != nil {
			return err
		}
		results = append(results, r)
	}
	return nil
}

// saveHeapProfile keeps the operator's heap profile (go tool pprof reads it).
func (b *bench) saveHeapProfile(ctx context.Context, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.pprofAddr+"/debug/pprof/heap", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(filepath.Join(b.o.root, file))
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		return err
	}
	logf("operator heap profile in %s (go tool pprof -sample_index=inuse_space -top bin/manager %s)", file, file)
	return nil
}

// bench drives the stack and observes the operator.
type bench struct {
	o       options
	st      *stack.Stack
	c       client.Client
	api     kubernetes.Interface
	ready   *readiness
	created int // routes created so far
	// pprofAddr serves the operator's /debug/pprof.
	pprofAddr string
}

func newBench(ctx context.Context, o options, st *stack.Stack, pprofAddr string) (*bench, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", st.Kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS = -1 // no client-side limit: the creators should not be what is slow
	c, err := client.New(cfg, client.Options{Scheme: st.Client.Scheme()})
	if err != nil {
		return nil, err
	}
	api, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	routes, err := cache.New(cfg, cache.Options{Scheme: st.Client.Scheme(),
		ByObject: map[client.Object]cache.ByObject{&v1alpha1.ProtectedRoute{}: {Transform: routeStatusOnly}}})
	if err != nil {
		return nil, err
	}
	ready, err := watchReadiness(ctx, routes)
	if err != nil {
		return nil, err
	}
	go func() { _ = routes.Start(ctx) }()
	if !routes.WaitForCacheSync(ctx) {
		return nil, errors.New("the benchmark's route watch did not sync")
	}
	return &bench{o: o, st: st, c: c, api: api, ready: ready, pprofAddr: pprofAddr}, nil
}

// setup creates the namespaces, their authorizers and pods, and waits until
// every authorizer is Ready.
func (b *bench) setup(ctx context.Context) error {
	start := time.Now()
	err := createAll(ctx, b.c, b.o.workers, b.o.namespaces, func(i int) []client.Object {
		return append(setupObjects(namespaceName(i), b.st.Issuer.URL()), podFor(i, b.o.namespaces))
	})
	if err != nil {
		return err
	}
	err = poll(ctx, time.Second, b.o.timeout, "JWTAuthorizers Ready", func() (bool, error) {
		var list v1alpha1.JWTAuthorizerList
		if err := b.c.List(ctx, &list); err != nil {
			return false, err
		}
		n := 0
		for i := range list.Items {
			if c := findReady(list.Items[i].Status.Conditions); c != nil && c.Status == "True" {
				n++
			}
		}
		return n == b.o.namespaces, nil
	})
	if err != nil {
		return err
	}
	logf("%d namespaces, JWTAuthorizers Ready and pods in %s", b.o.namespaces, time.Since(start).Round(time.Millisecond))
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "==> "+format+"\n", args...)
}
