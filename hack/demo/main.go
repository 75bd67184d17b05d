// Command demo shows jwtgate working end to end on this machine, without a
// cluster: `make demo`. It starts a real kube-apiserver and etcd, the
// operator with its injection webhook, a development OIDC issuer and the
// colors sample app; applies the samples; creates a pod and prints what the
// webhook injected; runs that sidecar in front of the app; makes the API
// gateway walkthrough's calls and prints them as a table; then edits the
// ProtectedRoute and shows the change enforced. DEMO_KEEP=1 keeps it all
// running for trying by hand until Ctrl-C.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/jwtgate/jwtgate/internal/spapage"
	"github.com/jwtgate/jwtgate/test/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Println("\ndemo: interrupted; everything it started is stopped")
			return
		}
		fmt.Fprintf(os.Stderr, "\ndemo failed: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	processLog := io.Discard
	if os.Getenv("DEMO_VERBOSE") == "1" {
		processLog = os.Stderr
	}
	s, err := stack.Start(ctx, stack.Options{Root: root, Log: out, ProcessLog: processLog})
	if err != nil {
		return err
	}
	defer s.Stop()

	if err := s.ApplySamples(ctx); err != nil {
		return err
	}
	pod, err := s.CreatePod(ctx)
	if err != nil {
		return err
	}
	printInjected(out, pod)
	if err := s.CreateUnguardedPod(ctx); err != nil {
		fmt.Fprintf(out, "==> a selected pod labelled jwtgate.io/inject=false is refused by the guard:\n    %v\n", firstLine(err.Error()))
	} else {
		return errors.New("the admission guard let an unguarded, selected pod in")
	}
	if err := s.StartSidecar(ctx, pod); err != nil {
		return err
	}

	calls, err := s.SeedCalls()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n==> the API gateway walkthrough, through the sidecar at %s\n\n", s.Sidecar.URL)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REQUEST\tCASE\tWANT\tGOT\tDETAIL")
	failed := 0
	var profile *stack.Result
	for _, c := range calls {
		r, err := s.Do(ctx, c)
		if err != nil {
			return err
		}
		mark := ""
		if r.Got != r.Want {
			mark = "  <-- unexpected"
			failed++
		}
		if r.Profile != nil && profile == nil {
			profile = &r
		}
		fmt.Fprintf(tw, "%s %s\t%s\t%d\t%d%s\t%s\n", c.Method, c.Path, c.Name, c.Want, r.Got, mark, detail(r))
	}
	tw.Flush()
	if profile != nil {
		fmt.Fprintf(out, "\n    claims the app received on GET /my/profile (X-Jwtgate-Claims and claim headers):\n")
		for k, v := range profile.Profile.Headers {
			fmt.Fprintf(out, "      %s: %s\n", k, v)
		}
		for _, k := range []string{"iss", "sub", "aud", "http://sandrino/roles"} {
			fmt.Fprintf(out, "      claims[%q] = %v\n", k, profile.Profile.Claims[k])
		}
	}

	took, err := s.RequireTokenOnColors(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n==> edited ProtectedRoute %s: /colors now needs a token; the running sidecar enforced it after %s (GET /colors without a token: 401)\n",
		stack.RouteName, took.Round(time.Millisecond))
	if failed > 0 {
		return fmt.Errorf("%d call(s) did not answer as expected", failed)
	}

	printHowTo(out, s)
	if os.Getenv("DEMO_KEEP") != "1" {
		fmt.Fprintln(out, "\ndemo: done (DEMO_KEEP=1 keeps everything running); stopping")
		return nil
	}
	if err := serveSPA(s); err != nil {
		fmt.Fprintf(out, "    (the single-page app could not start: %v)\n", err)
	} else {
		fmt.Fprintf(out, "    open http://%s/ in a browser: the seed's single-page app calls the API cross-origin\n", spaAddr)
	}
	fmt.Fprintln(out, "\ndemo: running until Ctrl-C")
	<-ctx.Done()
	return nil
}

// spaAddr is the origin the sample ProtectedRoute's CORS policy allows.
const spaAddr = "localhost:3000"

// serveSPA serves the seed's single-page app at http://localhost:3000.
func serveSPA(s *stack.Stack) error {
	h, err := spapage.Handler(spapage.Config{APIURL: s.Sidecar.URL, IssuerURL: s.Issuer.URL()})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", spaAddr)
	if err != nil {
		return err
	}
	go func() { _ = (&http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}).Serve(ln) }()
	return nil
}

func detail(r stack.Result) string {
	switch {
	case r.Profile != nil:
		return "app saw sub=" + fmt.Sprint(r.Profile.Claims["sub"])
	case r.Header.Get("Access-Control-Allow-Origin") != "":
		return "Access-Control-Allow-Origin: " + r.Header.Get("Access-Control-Allow-Origin")
	case r.WWWAuthenticate != "":
		return "WWW-Authenticate: " + r.WWWAuthenticate
	default:
		return truncate(r.Body, 70)
	}
}

func printInjected(out io.Writer, pod *corev1.Pod) {
	view := struct {
		Annotations    map[string]string  `json:"annotations"`
		InitContainers []corev1.Container `json:"initContainers"`
		Containers     []corev1.Container `json:"containers"`
	}{pod.Annotations, pod.Spec.InitContainers, pod.Spec.Containers}
	data, _ := yaml.Marshal(view)
	fmt.Fprintf(out, "==> injected pod spec (%s/%s):\n", pod.Namespace, pod.Name)
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		fmt.Fprintf(out, "    %s\n", line)
	}
}

func printHowTo(out io.Writer, s *stack.Stack) {
	fmt.Fprintf(out, `
==> where everything listens
    API server kubeconfig   %s
    operator health         http://%s/readyz
    injection webhook       https://%s
    dev OIDC issuer         %s
    colors app              http://%s
    sidecar (the API)       %s
    sidecar admin           %s/readyz  /metrics
    sidecar debug           %s/configz

==> try it by hand (with DEMO_KEEP=1)
    kubectl --kubeconfig %[1]s get jwta,proute -n %[9]s
    TOKEN=$(curl -s '%[4]smint?sub=alice&scope=read:colors')
    curl -i -H "Authorization: Bearer $TOKEN" %[6]s/my/colors
`, s.Kubeconfig, s.OperatorHealth, s.WebhookAddr, s.Issuer.URL(), s.AppAddr, s.Sidecar.URL, s.Sidecar.AdminURL, s.Sidecar.DebugURL, stack.AppNamespace)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return truncate(line, 300)
}

// repoRoot finds the directory holding go.mod, from the working directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the demo from inside the jwtgate repository (no go.mod found)")
		}
		dir = parent
	}
}
