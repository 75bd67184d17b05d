// Command incluster-client makes HTTP requests from inside a cluster, for smoke tests
// and demos on images without a shell: it prints the status and body of each URL and
// exits non-zero when one fails. With -retry it retries each URL until it answers
// below 500 or the time is up (a Service's endpoints can be ready a moment before
// kube-proxy programs them). Without URLs it waits until it is stopped, so a pod can
// keep running for `kubectl exec <pod> -- /incluster-client URL`. -format status or
// body prints only that, for scripts; -cacert trusts a test CA.
//
// With -rate it is a load generator instead: it calls one URL that many times a
// second for -duration (or until its stdin closes, with -until-stdin-closes, so a
// script can keep it running while it changes the cluster) and prints the number of
// requests, of failed ones (no answer, or not the -expect status) and of each status
// and error; it exits non-zero when any request failed.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	var hdrs headers
	flag.Var(&hdrs, "H", "request header 'Name: value' (repeatable)")
	method := flag.String("X", http.MethodGet, "request method")
	bearerFile := flag.String("bearer-file", "", "file whose content is sent as 'Authorization: Bearer ...'")
	retry := flag.Duration("retry", 0, "keep retrying each URL for this long until it answers below 500")
	insecure := flag.Bool("k", false, "skip TLS certificate verification")
	expect := flag.Int("expect", 0, "exit non-zero unless every response has this status (default: any status below 400)")
	timeout := flag.Duration("timeout", 10*time.Second, "timeout of each request")
	caFile := flag.String("cacert", "", "PEM CA certificates to trust (instead of none: the image has no trust store)")
	format := flag.String("format", "full", "what to print of each response: full (URL, status, body), status or body")
	rate := flag.Float64("rate", 0, "load mode: requests per second to the one URL given")
	duration := flag.Duration("duration", time.Minute, "load mode: how long to send requests")
	untilStdinCloses := flag.Bool("until-stdin-closes", false, "load mode: stop sending when stdin closes (or -duration ends)")
	keepAlive := flag.Bool("keepalive", true, "load mode: reuse connections")
	flag.Parse()
	switch *format {
	case "full", "status", "body":
	default:
		fmt.Fprintf(os.Stderr, "-format %q: use full, status or body\n", *format)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if flag.NArg() == 0 {
		<-ctx.Done()
		return
	}
	client := &http.Client{Timeout: *timeout}
	switch {
	case *insecure:
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} // opt-in, for self-signed test endpoints
	case *caFile != "":
		pem, err := os.ReadFile(*caFile)
		pool := x509.NewCertPool()
		if err != nil || !pool.AppendCertsFromPEM(pem) {
			fmt.Fprintf(os.Stderr, "-cacert %s: no PEM certificate read (%v)\n", *caFile, err)
			os.Exit(2)
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	if *rate > 0 {
		if flag.NArg() != 1 || *duration <= 0 {
			fmt.Fprintln(os.Stderr, "-rate: give exactly one URL and a positive -duration")
			os.Exit(2)
		}
		if !runLoad(ctx, loadOptions{
			method: *method, url: flag.Arg(0), bearerFile: *bearerFile, hdrs: hdrs, rate: *rate,
			duration: *duration, untilStdinCloses: *untilStdinCloses, expect: *expect, keepAlive: *keepAlive, timeout: *timeout,
		}) {
			os.Exit(1)
		}
		return
	}
	ok := true
	for _, url := range flag.Args() {
		status, err := get(ctx, client, *method, url, hdrs, *bearerFile, *retry, *format)
		switch {
		case err != nil:
			fmt.Fprintf(os.Stderr, "%s: %v\n", url, err)
			ok = false
		case *expect != 0 && status != *expect, *expect == 0 && status >= 400:
			ok = false
		}
	}
	if !ok {
		os.Exit(1)
	}
}

func get(ctx context.Context, client *http.Client, method, url string, hdrs []string, bearerFile string, retry time.Duration, format string) (int, error) {
	deadline := time.Now().Add(retry)
	for {
		status, body, err := once(ctx, client, method, url, hdrs, bearerFile)
		if (err == nil && status < 500) || time.Now().After(deadline) || ctx.Err() != nil {
			if err == nil {
				switch format {
				case "status":
					fmt.Println(status)
				case "body":
					os.Stdout.Write(body)
				default:
					fmt.Printf("%s %d\n%s", url, status, body)
					if len(body) > 0 && body[len(body)-1] != '\n' {
						fmt.Println()
					}
				}
			}
			return status, err
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func once(ctx context.Context, client *http.Client, method, url string, hdrs []string, bearerFile string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return 0, nil, err
	}
	for _, h := range hdrs {
		k, v, found := strings.Cut(h, ":")
		if !found {
			return 0, nil, fmt.Errorf("header %q is not 'Name: value'", h)
		}
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if bearerFile != "" {
		tok, err := os.ReadFile(bearerFile)
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, err
}
