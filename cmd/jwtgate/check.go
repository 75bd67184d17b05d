package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/compile"
	"github.com/jwtgate/jwtgate/internal/controller"
	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/keys"
	"github.com/jwtgate/jwtgate/sidecar/proxy"
	"github.com/jwtgate/jwtgate/sidecar/routes"
)

// precedence is the sidecar's rule order (sidecar/routes), in words.
const precedence = "segment by segment a literal beats {param}, which beats {greedy+}; then a rule that names the method beats one for any method"

// check runs a request through the sidecar's own pipeline (proxy.Handler)
// in this process, against an app that only records what it receives.
func check(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("jwtgate check", flag.ContinueOnError)
	fs.SetOutput(out)
	var k kubeFlags
	k.register(fs)
	routeName := fs.String("route", "", "NAMESPACE/NAME of a ProtectedRoute: read it and its JWTAuthorizers from the cluster and compile them as the operator does")
	configFile := fs.String("config", "", "a compiled configuration instead (a route ConfigMap's config.json)")
	tok := fs.String("token", "", "the request's token, sent where the matched rule's authorizer reads it")
	jwksFile := fs.String("jwks", "", "a JWK Set file that every authorizer verifies with, instead of fetching its issuer's keys")
	keyWait := fs.Duration("key-timeout", 10*time.Second, "how long to wait for keys fetched from the issuers")
	var headers listFlag
	fs.Var(&headers, "header", "a request header 'Name: value' (repeatable)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return errors.New("check needs METHOD PATH, e.g. jwtgate check --config config.json GET /my/colors")
	}
	if (*routeName == "") == (*configFile == "") {
		return errors.New("give exactly one of --route NAMESPACE/NAME and --config FILE")
	}
	var raw []byte
	var notes []string
	if *routeName != "" {
		raw, notes, err = compileRoute(ctx, &k, *routeName)
	} else {
		raw, err = os.ReadFile(*configFile)
	}
	if err != nil {
		return err
	}
	var jwks []byte
	if *jwksFile != "" {
		if jwks, err = os.ReadFile(*jwksFile); err != nil {
			return err
		}
	}
	snap, audit, err := checkedConfig(raw, jwks)
	if err != nil {
		return err
	}
	d, err := decide(ctx, snap, request{method: pos[0], target: pos[1], token: *tok, headers: headers}, *keyWait)
	if err != nil {
		return err
	}
	d.notes = append(notes, d.notes...)
	d.print(out, snap.Config, audit)
	return nil
}

// compileRoute compiles a route and its authorizers as the operator does,
// saying which authorizers are missing or not Ready.
func compileRoute(ctx context.Context, k *kubeFlags, name string) ([]byte, []string, error) {
	ns, n, err := splitName(name)
	if err != nil {
		return nil, nil, err
	}
	c, _, err := k.client()
	if err != nil {
		return nil, nil, err
	}
	var route v1alpha1.ProtectedRoute
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: n}, &route); err != nil {
		return nil, nil, err
	}
	auths, err := controller.ReadAuthorizers(ctx, c, &route)
	if err != nil {
		return nil, nil, err
	}
	refs, err := controller.ReadReferenced(ctx, c, auths)
	if err != nil {
		return nil, nil, err
	}
	res, err := compile.Compile(&route, auths, refs)
	var invalid *compile.InvalidRulesError
	if errors.As(err, &invalid) {
		return nil, nil, fmt.Errorf("ProtectedRoute %s is not accepted (its sidecars keep their previous configuration): %w", name, err)
	}
	if err != nil {
		return nil, nil, err
	}
	var notes []string
	for _, u := range res.Unresolved {
		notes = append(notes, u.Message)
	}
	return res.JSON, notes, nil
}

// checkedConfig validates raw as the sidecar does and returns what check
// runs: in Enforce mode, so the decision's own answer shows (audit says
// whether the route forwards it anyway), and with jwks, when given, as
// every authorizer's key set, so nothing is fetched.
func checkedConfig(raw, jwks []byte) (*config.Snapshot, bool, error) {
	snap, err := config.Parse(raw)
	if err != nil {
		return nil, false, fmt.Errorf("the sidecar refuses this configuration: %w", err)
	}
	c := *snap.Config
	audit := c.Mode == config.ModeAudit
	c.Mode = ""
	if jwks != nil {
		set, err := keys.ParseLocalJWKS(jwks)
		if err != nil {
			return nil, false, fmt.Errorf("--jwks: %w", err)
		}
		c.Authorizers = slices.Clone(c.Authorizers)
		for i := range c.Authorizers {
			a := &c.Authorizers[i]
			if a.Unavailable == "" {
				a.JWKS, a.JWKSURI, a.CABundle, a.AllowInsecureHTTP, a.KeyRefresh = set.JSON, "", "", false, nil
			}
		}
		c.Version = max(c.Version, 2) // jwks is a version 2 field
	}
	data, err := compile.Marshal(&c)
	if err != nil {
		return nil, false, err
	}
	snap, err = config.Parse(data)
	return snap, audit, err
}

// request is what check sends.
type request struct {
	method, target, token string
	headers               []string
}

// decision is what the sidecar decided and answered.
type decision struct {
	req                     request
	route, decision, reason string
	matched                 int   // index of the matched rule, -1 for none
	matching                []int // every rule that matches on its own
	status                  int
	answer                  http.Header
	forwarded               http.Header // what the app received; nil when refused
	sent                    http.Header
	notes                   []string
}

// decide runs req through a proxy.Handler for snap.
func decide(ctx context.Context, snap *config.Snapshot, req request, keyWait time.Duration) (*decision, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	app := &recordingApp{}
	var obs observer
	h := proxy.New(proxy.Options{
		Upstream:  &url.URL{Scheme: "http", Host: "app.invalid"},
		Keys:      keys.NewRegistry(ctx, keys.NewHTTPClient(keyWait), keys.Options{}, nil, log),
		Observer:  &obs,
		Log:       log,
		Transport: app,
	})
	if err := h.Apply(snap); err != nil {
		return nil, err
	}
	d := &decision{req: req, matched: -1}
	deadline := time.Now().Add(keyWait)
	for ok, msg := h.Ready(); !ok; ok, msg = h.Ready() {
		if time.Now().After(deadline) {
			d.notes = append(d.notes, msg+": decided as the sidecar does until it has them")
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.matchRules(snap.Config)
	r, err := d.httpRequest(snap.Config)
	if err != nil {
		return nil, err
	}
	d.sent = r.Header.Clone()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	d.route, d.decision, d.reason = obs.route, obs.decision, obs.reason
	d.status, d.answer, d.forwarded = rec.Code, rec.Header(), app.header
	return d, nil
}

// matchRules finds the rule the sidecar's matcher picks and every rule that
// matches on its own, to show precedence at work.
func (d *decision) matchRules(c *config.Config) {
	path, _, err := routes.Canonical(d.req.target)
	if err != nil {
		return // the sidecar answers 400 before routing
	}
	all := make([]routes.Route, len(c.Rules))
	for i, r := range c.Rules {
		all[i] = routes.Route{Path: r.Path, Methods: r.Methods, Index: i}
		if one, err := routes.Compile(all[i : i+1]); err == nil && one.Match(d.req.method, path) >= 0 {
			d.matching = append(d.matching, i)
		}
	}
	if m, err := routes.Compile(all); err == nil {
		d.matched = m.Match(d.req.method, path)
	}
}

// httpRequest parses the request as a server would, with the token where
// the matched rule's authorizer reads it (the Authorization header when
// no rule or authorizer says otherwise).
func (d *decision) httpRequest(c *config.Config) (*http.Request, error) {
	target := d.req.target
	var b strings.Builder
	for _, h := range d.req.headers {
		b.WriteString(h + "\r\n")
	}
	if d.req.token != "" {
		switch src := d.identitySource(c); src.In {
		case config.SourceQuery:
			sep := "?"
			if strings.Contains(target, "?") {
				sep = "&"
			}
			target += sep + url.QueryEscape(src.Name) + "=" + url.QueryEscape(d.req.token)
		case config.SourceCookie:
			b.WriteString("Cookie: " + src.Name + "=" + d.req.token + "\r\n")
		case config.SourceHeader:
			if !strings.EqualFold(src.Name, "Authorization") {
				b.WriteString(src.Name + ": " + d.req.token + "\r\n")
				break
			}
			fallthrough
		default:
			b.WriteString("Authorization: Bearer " + d.req.token + "\r\n")
		}
	}
	raw := d.req.method + " " + target + " HTTP/1.1\r\nHost: app.example\r\n" + b.String() + "\r\n"
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		return nil, fmt.Errorf("not an HTTP request: %w", err)
	}
	r.RemoteAddr = "192.0.2.1:40000"
	return r, nil
}

// identitySource is where the matched rule's first available authorizer
// reads the token.
func (d *decision) identitySource(c *config.Config) config.IdentitySource {
	if d.matched < 0 {
		return config.IdentitySource{}
	}
	for _, name := range c.Rules[d.matched].Candidates() {
		for _, a := range c.Authorizers {
			if a.Name == name && a.Unavailable == "" {
				return a.IdentitySource
			}
		}
	}
	return config.IdentitySource{}
}

func (d *decision) print(out io.Writer, c *config.Config, audit bool) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	defer w.Flush()
	line := func(key, format string, args ...any) { fmt.Fprintf(w, "%s\t%s\n", key, fmt.Sprintf(format, args...)) }
	line("REQUEST", "%s %s", d.req.method, d.req.target)
	switch {
	case d.matched >= 0:
		line("RULE", "%s", describeRule(c, d.matched))
	case d.matching == nil && d.decision == proxy.DecisionNotFound:
		line("RULE", "none matches: nothing is open by default")
	default:
		line("RULE", "none: the request is refused before routing")
	}
	switch {
	case len(d.matching) == 1:
		line("WHY", "the only rule that matches")
	case len(d.matching) > 1:
		line("WHY", "the most specific of %d rules that match (%s):", len(d.matching), precedence)
		for _, i := range d.matching {
			mark := "  "
			if i == d.matched {
				mark = "> "
			}
			line("", "%s%s", mark, describeRule(c, i))
		}
	}
	what := d.decision
	if d.reason != string(proxy.ReasonNone) {
		what += ", " + d.reason
	}
	if d.route != "" && (d.matched < 0 || c.Rules[d.matched].Path != d.route) {
		what += " (that of " + d.route + ")" // a near miss counts under the rule it resembles
	}
	line("DECISION", "%d %s: %s", d.status, http.StatusText(d.status), what)
	if v := d.answer.Get("WWW-Authenticate"); v != "" {
		line("CHALLENGE", "WWW-Authenticate: %s", v)
	}
	switch {
	case !audit:
		line("MODE", "Enforce")
	case proxy.Audited(d.decision):
		line("MODE", "Audit: the rules are NOT enforced; the sidecar forwards this request anyway, with %s: %s", config.DecisionHeader, d.decision)
	case d.decision == proxy.DecisionAllowed:
		line("MODE", "Audit: forwarded with %s: %s", config.DecisionHeader, d.decision)
	default:
		line("MODE", "Audit: refused all the same (Audit mode forwards only authorization refusals: 401, 403, 503)")
	}
	for _, h := range d.added() {
		line("APP GETS", "%s", h)
	}
	for _, n := range d.notes {
		line("NOTE", "%s", n)
	}
}

// added lists the headers the sidecar set for the app, the verified claims
// decoded; what any reverse proxy adds (X-Forwarded-*, an empty
// User-Agent) is left out.
func (d *decision) added() []string {
	var out []string
	for name, vals := range d.forwarded {
		if _, sent := d.sent[name]; sent || strings.HasPrefix(name, "X-Forwarded-") || name == "User-Agent" {
			continue
		}
		v := strings.Join(vals, ", ")
		if name == config.ClaimsHeader {
			if b, err := base64.RawURLEncoding.DecodeString(v); err == nil {
				v = string(b) + " (decoded)"
			}
		}
		out = append(out, name+": "+v)
	}
	slices.Sort(out)
	return out
}

// describeRule names rules[i] and what it requires.
func describeRule(c *config.Config, i int) string {
	r := &c.Rules[i]
	methods := "any method"
	if len(r.Methods) > 0 {
		methods = strings.Join(routes.Methods(r.Methods), ",")
	}
	var what []string
	switch {
	case r.Public:
		what = append(what, "public")
	default:
		what = append(what, "authorizer "+strings.Join(r.Candidates(), " or "))
	}
	if r.OptionalToken {
		what = append(what, "token optional")
	}
	if len(r.Scopes) > 0 {
		match := "any of"
		if r.ScopeMatch == config.ScopeMatchAllOf {
			match = "all of"
		}
		what = append(what, "scopes ("+match+") "+strings.Join(r.Scopes, " "))
	}
	if n := len(r.Claims); n > 0 {
		what = append(what, fmt.Sprintf("%d claim requirements", n))
	}
	return fmt.Sprintf("rules[%d] %s %s (%s)", i, methods, r.Path, strings.Join(what, "; "))
}

// observer keeps what the sidecar records about the one request.
type observer struct{ route, decision, reason string }

func (o *observer) Request(rec proxy.Record) {
	o.route, o.decision, o.reason = rec.Route, rec.Decision, string(rec.Reason)
}

// recordingApp stands in for the app: it records the forwarded request.
type recordingApp struct{ header http.Header }

func (a *recordingApp) RoundTrip(r *http.Request) (*http.Response, error) {
	a.header = r.Header.Clone()
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: r,
		ProtoMajor: 1, ProtoMinor: 1}, nil
}
