// Command devissuer is a development OpenID Connect issuer (see package
// devissuer). It listens on loopback only, unless it serves TLS: then it may
// listen anywhere, for a test cluster whose JWTAuthorizer trusts its CA
// (config/samples/apps/devissuer.yaml).
//
//	devissuer --listen 127.0.0.1:5556            serve discovery, JWKS and /mint
//	devissuer --listen 0.0.0.0:8443 --tls-cert tls.crt --tls-key tls.key \
//	  --public-url https://devissuer.idp.svc.cluster.local:8443/
//	                                             the same over https, named as its clients reach it
//	devissuer mint --issuer http://127.0.0.1:5556/ --scope read:colors --sub alice
//	                                             print a token from a running issuer
package main

import (
	"context"
	"crypto/tls"
	"errors"
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
	listen := fs.String("listen", "127.0.0.1:5556", "address to listen on (port 0 picks a free one); loopback only, unless --tls-cert is given")
	audience := fs.String("audience", devissuer.DefaultAudience, "default `aud` of minted tokens")
	urlFile := fs.String("url-file", "", "write the issuer URL to this file once listening (for scripts)")
	tlsCert := fs.String("tls-cert", "", "serve https with this PEM certificate (chain) file; needs --tls-key")
	tlsKey := fs.String("tls-key", "", "PEM private key file of --tls-cert")
	publicURL := fs.String("public-url", "", "issuer URL to publish in `iss` and discovery, as clients reach it (default: http(s)://LISTEN/)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := devissuer.Options{Audience: *audience, PublicURL: *publicURL}
	switch {
	case *tlsCert != "" && *tlsKey != "":
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		opts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	case *tlsCert != "" || *tlsKey != "":
		return errors.New("--tls-cert and --tls-key go together")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	srv, err := devissuer.Start(*listen, opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	if *urlFile != "" {
		if err := os.WriteFile(*urlFile, []byte(srv.URL()+"\n"), 0o644); err != nil {
			return err
		}
	}
	log.Info("dev issuer serving", "listen", srv.Addr(), "issuer", srv.URL(), "jwks", srv.JWKSURL(),
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
	caFile := fs.String("cacert", "", "PEM CA certificates to trust for an https issuer (default: the system's)")
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
	client, err := devissuer.NewClient(*caFile)
	if err != nil {
		return err
	}
	tok, err := devissuer.FetchTokenWith(context.Background(), client, *iss, p)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, tok)
	return err
}
