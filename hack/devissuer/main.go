// Command devissuer is a development OpenID Connect issuer (see package
// issuer). It listens on loopback only.
//
//	devissuer --listen 127.0.0.1:5556            serve discovery, JWKS and /mint
//	devissuer mint --issuer http://127.0.0.1:5556/ --scope read:colors --sub alice
//	                                             print a token from a running issuer
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jwtgate/jwtgate/internal/devissuer"
)

func main() {
	var err error
	if len(os.Args) > 1 && os.Args[1] == "mint" {
		err = mint(os.Args[2:], os.Stdout)
	} else {
		err = serve(os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "devissuer:", err)
		os.Exit(1)
	}
}

func serve(args []string) error {
	fs := flag.NewFlagSet("devissuer", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:5556", "loopback address to listen on (port 0 picks a free one)")
	audience := fs.String("audience", devissuer.DefaultAudience, "default `aud` of minted tokens")
	urlFile := fs.String("url-file", "", "write the issuer URL to this file once listening (for scripts)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	srv, err := devissuer.Start(*listen, devissuer.Options{Audience: *audience})
	if err != nil {
		return err
	}
	defer srv.Close()
	if *urlFile != "" {
		if err := os.WriteFile(*urlFile, []byte(srv.URL()+"\n"), 0o644); err != nil {
			return err
		}
	}
	log.Info("dev issuer serving", "issuer", srv.URL(), "jwks", srv.JWKSURL(),
		"mint", strings.TrimSuffix(srv.URL(), "/")+devissuer.MintPath+"?sub=alice&scope=read:colors")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info("dev issuer stopping")
	return nil
}

// mint asks a running issuer for a token, so the keys stay in one process.
func mint(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("devissuer mint", flag.ContinueOnError)
	iss := fs.String("issuer", "http://127.0.0.1:5556/", "URL of the running dev issuer")
	sub := fs.String("sub", devissuer.DefaultSubject, "subject (`sub`)")
	scope := fs.String("scope", "", "space-delimited scopes, e.g. 'read:colors'")
	aud := fs.String("aud", "", "audience (the issuer's default when empty)")
	alg := fs.String("alg", "RS256", "RS256 or ES256")
	ttl := fs.Duration("ttl", devissuer.DefaultTTL, "lifetime")
	claims := fs.String("claims", "", `extra claims as a JSON object, e.g. '{"realm_access":{"roles":["admin"]}}'`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	q := url.Values{"sub": {*sub}, "alg": {*alg}, "ttl": {ttl.String()}}
	if *scope != "" {
		q.Set("scope", *scope)
	}
	if *aud != "" {
		q.Set("aud", *aud)
	}
	if *claims != "" {
		q.Set("claims", *claims)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(strings.TrimSuffix(*iss, "/") + devissuer.MintPath + "?" + q.Encode())
	if err != nil {
		return fmt.Errorf("is the dev issuer running at %s? %w", *iss, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	_, err = out.Write(body)
	return err
}
