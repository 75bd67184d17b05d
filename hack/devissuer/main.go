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
	"os"
	"os/signal"
	"strings"
	"syscall"

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
	var p devissuer.MintParams
	fs.StringVar(&p.Subject, "sub", devissuer.DefaultSubject, "subject (`sub`)")
	scope := fs.String("scope", "", "space-delimited scopes, e.g. 'read:colors'")
	fs.StringVar(&p.Audience, "aud", "", "audience (the issuer's default when empty)")
	fs.StringVar(&p.Algorithm, "alg", "RS256", "RS256 or ES256")
	fs.DurationVar(&p.TTL, "ttl", devissuer.DefaultTTL, "lifetime")
	fs.StringVar(&p.ClaimsJSON, "claims", "", `extra claims as a JSON object, e.g. '{"realm_access":{"roles":["admin"]}}'`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	p.Scopes = strings.Fields(*scope)
	tok, err := devissuer.FetchToken(context.Background(), *iss, p)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, tok)
	return err
}
