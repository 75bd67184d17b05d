package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/jwtgate/jwtgate/internal/devissuer"
)

// token prints a token the development issuer mints through its /mint
// endpoint: the issuer signs, so its tokens verify against what it publishes.
func token(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("jwtgate token", flag.ContinueOnError)
	fs.SetOutput(out)
	iss := fs.String("issuer", "http://127.0.0.1:5556/", "URL of a running development issuer (hack/devissuer)")
	caFile := fs.String("cacert", "", "PEM CA certificates to trust for an https issuer, e.g. config/samples/dev-tls/ca.crt (default: the system's)")
	var p devissuer.MintParams
	var scopes, claims listFlag
	fs.StringVar(&p.Subject, "sub", "", "subject (`sub`); the issuer's default (alice) when empty")
	fs.Var(&scopes, "scope", "a scope (repeatable; space-separated lists too)")
	fs.Var(&claims, "claim", "a string claim NAME=VALUE (repeatable; a name given twice makes an array)")
	fs.StringVar(&p.ClaimsJSON, "claims", "", `claims of any shape as a JSON object, e.g. '{"realm_access":{"roles":["admin"]}}'`)
	fs.StringVar(&p.Audience, "aud", "", "audience (`aud`); the issuer's default when empty")
	fs.StringVar(&p.Algorithm, "alg", "", "RS256 (default) or ES256")
	fs.DurationVar(&p.TTL, "ttl", 0, "lifetime, e.g. 10m (the issuer's default, 1h, when 0; negative mints an expired token)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("token takes no arguments, got %q", pos)
	}
	for _, s := range scopes {
		p.Scopes = append(p.Scopes, strings.Fields(s)...)
	}
	for _, c := range claims {
		name, value, ok := strings.Cut(c, "=")
		if !ok || name == "" {
			return fmt.Errorf("--claim %q must be NAME=VALUE", c)
		}
		if p.Claims == nil {
			p.Claims = map[string][]string{}
		}
		p.Claims[name] = append(p.Claims[name], value)
	}
	client, err := devissuer.NewClient(*caFile)
	if err != nil {
		return err
	}
	tok, err := devissuer.FetchTokenWith(ctx, client, *iss, p)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, tok)
	return err
}
