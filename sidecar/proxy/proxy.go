// Package proxy is the sidecar's request pipeline, assembled in one place
// (ServeHTTP): sanity -> CORS preflight -> route -> token -> verify ->
// scopes/claims -> forward.
package proxy

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jwtgate/jwtgate/sidecar/authz"
	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/keys"
	"github.com/jwtgate/jwtgate/sidecar/routes"
	"github.com/jwtgate/jwtgate/sidecar/verify"
)

// Decisions (metric label values).
const (
	DecisionAllowed      = "allowed"
	DecisionBadRequest   = "bad_request"
	DecisionMethod       = "method_not_allowed"
	DecisionUnauthorized = "unauthorized"
	DecisionForbidden    = "forbidden"
	DecisionNotFound     = "not_found"
	DecisionUnavailable  = "unavailable"
	DecisionPreflight    = "preflight"
	DecisionError        = "error"
)

// DescNearMiss is the 400's description for a path that differs from a
// more protected rule's only by case, a trailing slash or a format suffix;
// the route label is that protected rule's.
const DescNearMiss = "path differs from a protected route only by case, a trailing slash or a format suffix"

// DescNoIssuer is the 401's description for a token on a rule with
// several authorizers whose `iss` is none of theirs.
const DescNoIssuer = "token issuer is not one of the route's authorizers"

// Decisions lists every decision, for tests and documentation.
var Decisions = []string{DecisionAllowed, DecisionBadRequest, DecisionMethod, DecisionUnauthorized, DecisionForbidden,
	DecisionNotFound, DecisionUnavailable, DecisionPreflight, DecisionError}

// Modes (metric label and access log values): in ModeAudit the refusals
// Audited lists were forwarded.
const (
	ModeEnforce = "enforce"
	ModeAudit   = "audit"
)

// Record is what one request leaves in the metrics and the access log.
// Every string in it comes from the configuration or a closed set.
type Record struct {
	// Route is the matched rule's path template ("" when none matched).
	Route, Decision, Mode string
	Reason                Reason
	// Authorizer decided, or would have ("" for public rules, and before
	// a token's iss picks one of several).
	Authorizer string
	// Status is the answer's HTTP status, the app's when forwarded.
	Status int
	// Forwarded: the request went to the app.
	Forwarded bool
	// Decide is the sidecar's own time, until its answer or until the
	// request was handed to the app; Total includes the app's time.
	Decide, Total time.Duration
}

// Observer records one request (metrics). Record is passed by value, so
// the call allocates nothing.
type Observer interface {
	Request(Record)
}

// Audited reports whether a route in Audit mode forwards a request the
// sidecar decided so: only authorization outcomes (no or invalid token,
// missing scope or claim, no keys or authorizer). Malformed requests, no
// matching rule and refused methods are not authorization, so Audit mode
// refuses them as Enforce does.
func Audited(decision string) bool {
	return decision == DecisionUnauthorized || decision == DecisionForbidden || decision == DecisionUnavailable
}

// Options configure a Handler.
type Options struct {
	// Upstream overrides the configuration's upstream (--upstream).
	Upstream *url.URL
	// Keys runs the key caches; required.
	Keys     *keys.Registry
	Observer Observer
	Log      *slog.Logger
	// Transport to the app; nil means a tuned clone of the default.
	Transport http.RoundTripper
	// BodyIdleTimeout is the longest a forwarded request body may go
	// without sending more bytes; 0 means DefaultBodyIdleTimeout.
	BodyIdleTimeout time.Duration
	// TokenCache, when set, spares a token sent again its signature check.
	TokenCache *TokenCache
	// AccessLog, when set, receives the access log's lines instead of Log:
	// the same JSON, encoded without slog (see accesslog.go). The caller
	// sets it only when Info is enabled.
	AccessLog io.Writer
	// SubjectClaim is the claim of a verified token the access log names
	// as its subject; empty means "sub".
	SubjectClaim string
}

// Handler is the authorizing reverse proxy.
type Handler struct {
	opts Options
	// state is the configuration in force: requests load it once and keep
	// it, so Apply never waits for them nor changes one mid-flight.
	state atomic.Pointer[state]
	proxy *httputil.ReverseProxy
	log   *slog.Logger
	now   func() time.Time
	// draining is set at shutdown: not ready any more.
	draining atomic.Bool
}

// New returns a handler with no configuration (every request gets 503
// until Apply succeeds).
func New(opts Options) *Handler {
	h := &Handler{opts: opts, log: opts.Log, now: time.Now}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.opts.BodyIdleTimeout <= 0 {
		h.opts.BodyIdleTimeout = DefaultBodyIdleTimeout
	}
	if h.opts.SubjectClaim == "" {
		h.opts.SubjectClaim = "sub"
	}
	tr := opts.Transport
	if tr == nil {
		tr = NewTransport()
	}
	h.proxy = &httputil.ReverseProxy{
		Rewrite:        rewrite,
		Transport:      tr,
		BufferPool:     bufferPool{},
		ModifyResponse: h.modifyResponse,
		ErrorHandler:   h.upstreamError,
		ErrorLog:       slog.NewLogLogger(h.log.Handler(), slog.LevelWarn),
	}
	return h
}

// NewTransport clones the default transport with bounded connect and
// handshake times and a keep-alive pool sized for one app.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil // the app is local; never route through an environment proxy
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 256
	t.IdleConnTimeout = 90 * time.Second
	t.TLSHandshakeTimeout = 5 * time.Second
	t.ExpectContinueTimeout = time.Second
	return t
}

// Apply compiles snap and swaps it in; requests in flight finish with the
// configuration they started with. It is the reload.Reloader's Apply.
func (h *Handler) Apply(snap *config.Snapshot) error {
	st, err := compile(snap, h.opts.Upstream, h.opts.Keys, h.opts.TokenCache)
	if err != nil {
		return err
	}
	h.state.Store(st)
	h.opts.TokenCache.Retain(st.scopes) // what other configurations verified
	return nil
}

// Hash returns the hash of the configuration in force, "" before any.
func (h *Handler) Hash() string {
	if st := h.state.Load(); st != nil {
		return st.snap.Hash
	}
	return ""
}

// Ready reports whether the sidecar can decide: a configuration is loaded
// and every authorizer a rule uses has ended its first key fetch. An
// authorizer without usable keys (never fetched, or older than the maximum
// stale age) does not make it unready: its rules answer 503 while public
// rules and other authorizers' rules keep working, so the pod stays in its
// Service. The message names the authorizers waiting for keys.
func (h *Handler) Ready() (bool, string) {
	if h.draining.Load() {
		return false, "shutting down"
	}
	st := h.state.Load()
	if st == nil {
		return false, "no configuration loaded"
	}
	var waiting []string
	for _, c := range st.caches {
		if !c.Attempted() {
			return false, "first key fetch under way for authorizer " + c.Source().Name
		}
		if !c.Ready() {
			waiting = append(waiting, c.Source().Name)
		}
	}
	if len(waiting) > 0 {
		return true, "ok; waiting for signing keys (rules answer 503) for authorizer " + strings.Join(waiting, ", ")
	}
	return true, "ok"
}

// KeysUsable says, for each authorizer a rule uses, whether it holds usable
// keys (metrics and /configz).
func (h *Handler) KeysUsable() map[string]bool {
	st := h.state.Load()
	if st == nil {
		return nil
	}
	out := make(map[string]bool, len(st.caches))
	for _, c := range st.caches {
		out[c.Source().Name] = c.Ready()
	}
	return out
}

// Drain makes Ready false for good (SIGTERM): load balancers stop sending
// new requests while those in flight finish.
func (h *Handler) Drain() { h.draining.Store(true) }

var (
	bodyUnauthorized = []byte(`{"message":"Unauthorized"}` + "\n")
	bodyForbidden    = []byte(`{"message":"Forbidden"}` + "\n")
	bodyNotFound     = []byte(`{"message":"Not Found"}` + "\n")
	bodyUnavailable  = []byte(`{"message":"Service Unavailable"}` + "\n")
	bodyBadRequest   = []byte(`{"message":"Bad Request"}` + "\n")
	bodyMethod       = []byte(`{"message":"Method Not Allowed"}` + "\n")
	bodyTimeout      = []byte(`{"message":"Request Timeout"}` + "\n")
	bodyTooLarge     = []byte(`{"message":"Request Entity Too Large"}` + "\n")
	bodyBadGateway   = []byte(`{"message":"Bad Gateway"}` + "\n")
	bodyInternal     = []byte(`{"message":"Internal Server Error"}` + "\n")
)

func reply(w http.ResponseWriter, status int, body []byte, challenge string) {
	hd := w.Header()
	if challenge != "" {
		hd.Set("WWW-Authenticate", challenge)
	}
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// quote makes s safe inside a quoted-string auth-param.
func quote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// methodOverrideHeaders (normalised) let some frameworks change the method
// after routing; the sidecar authorised the request line's method, so they
// are refused in any spelling.
var methodOverrideHeaders = []string{"x-http-method-override", "x-http-method", "x-method-override"}

// refusedMethod reports the methods never forwarded, whatever the rules
// say: TRACE (and IIS's TRACK) would have an echoing app send the token
// and claim headers back to the caller, and CONNECT asks for a tunnel.
func refusedMethod(m string) bool {
	return m == http.MethodTrace || m == "TRACK" || m == http.MethodConnect
}

// outcome is the decision the access log and metrics record.
type outcome struct {
	route, decision string
	reason          Reason
}

// trace is what serve learns beside the outcome, for the record.
type trace struct {
	auth    string
	tok     *verify.Token // verified, so its subject may be logged
	decided time.Time     // set when the request is handed to the app
}

// refuse answers an authorization refusal and reports true, or, in Audit
// mode, records it in denied and reports false: the request goes on and is
// forwarded with what was verified so far.
func (st *state) refuse(w http.ResponseWriter, denied *outcome, status int, body []byte, challenge string, out outcome) bool {
	*denied = out
	if st.audit {
		return false
	}
	reply(w, status, body, challenge)
	return true
}

// refuseToken refuses a token that did not verify: 503 when keys are
// missing, else 401. Apart from serve, so the error's lookup costs an
// accepted token nothing.
func (st *state) refuseToken(w http.ResponseWriter, denied *outcome, route string, err error) bool {
	var ve *verify.Error
	if !errors.As(err, &ve) {
		ve = &verify.Error{Reason: verify.ReasonClaims}
	}
	if ve.Unavailable() {
		return st.refuse(w, denied, http.StatusServiceUnavailable, bodyUnavailable, "", outcome{route, DecisionUnavailable, ReasonKeysUnavailable})
	}
	return st.refuse(w, denied, http.StatusUnauthorized, bodyUnauthorized, `Bearer error="invalid_token", error_description="`+err.Error()+`"`,
		outcome{route, DecisionUnauthorized, verifyReason(ve.Reason)})
}

// ServeHTTP runs the pipeline. Its order is the contract; keep it here.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	path := r.URL.Path // serve rewrites r.URL for the app
	st := h.state.Load()
	if h.draining.Load() {
		// Shutting down: end each connection with its answer, so no client
		// sends its next request on a connection that is about to close.
		// (The server's SetKeepAlivesEnabled(false) would also close idle
		// connections at once, racing requests already on their way.)
		w.Header()["Connection"] = connectionClose
	}
	id := requestID(r.Header)
	sw := newStatusWriter(w, r)
	var tr trace
	out := h.serve(sw, r, st, &tr)
	end := h.now()
	rec := Record{Route: out.route, Decision: out.decision, Reason: out.reason, Mode: ModeEnforce, Authorizer: tr.auth,
		Status: sw.status, Forwarded: !tr.decided.IsZero(), Decide: end.Sub(start), Total: end.Sub(start)}
	sw.release()
	if rec.Forwarded {
		rec.Decide = tr.decided.Sub(start)
	}
	if st != nil && st.audit {
		rec.Mode = ModeAudit
	}
	if h.opts.Observer != nil {
		h.opts.Observer.Request(rec)
	}
	h.logRequest(r, path, id, &rec, tr.tok)
}

// logRequest writes the access log line: what was decided and why, never
// token contents (the subject only of a verified token).
func (h *Handler) logRequest(r *http.Request, path, id string, rec *Record, tok *verify.Token) {
	ctx := r.Context()
	if h.opts.AccessLog == nil && !h.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	subject := ""
	if tok != nil {
		subject = h.subject(tok)
	}
	if h.opts.AccessLog != nil {
		l := accessLine{method: r.Method, path: path, subject: subject, id: id, remote: r.RemoteAddr, rec: rec}
		l.write(h.opts.AccessLog, time.Now())
		return
	}
	h.log.LogAttrs(ctx, slog.LevelInfo, "request",
		slog.String("method", r.Method), slog.String("path", path), slog.Int("status", rec.Status),
		slog.String("decision", rec.Decision), slog.String("reason", string(rec.Reason)), slog.String("rule", rec.Route),
		slog.String("authorizer", rec.Authorizer), slog.String("subject", subject), slog.String("mode", rec.Mode),
		slog.String("requestId", id), slog.String("remote", r.RemoteAddr),
		slog.Duration("decisionDuration", rec.Decide), slog.Duration("duration", rec.Total))
}

// maxSubject bounds the logged subject: a verified token's claim, but the
// issuer may put anything in it.
const maxSubject = 256

func (h *Handler) subject(tok *verify.Token) string {
	v, ok := authz.HeaderValue(tok.Claim(h.opts.SubjectClaim))
	if !ok {
		return ""
	}
	if len(v) > maxSubject {
		v = v[:maxSubject]
	}
	return v
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, st *state, tr *trace) (out outcome) {
	// A body is read only if the request is forwarded: any other answer is
	// sent at once and then closes the connection.
	body := hasBody(r)
	if body {
		closeUnread(w)
	}
	underDeadline := false // the body is wrapped by forwardBody
	// A panic while deciding answers 500 and the request is never
	// forwarded. Once forwarding starts, panics (ReverseProxy's
	// ErrAbortHandler) belong to net/http, which closes the connection.
	forwarding := false
	defer func() {
		if forwarding {
			return
		}
		if p := recover(); p != nil {
			h.log.Error("panic while deciding a request; answered 500, not forwarded", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			reply(w, http.StatusInternalServerError, bodyInternal, "")
			out = outcome{decision: DecisionError, reason: ReasonInternal}
		}
		if body {
			linger(w)
		}
	}()
	if st == nil {
		reply(w, http.StatusServiceUnavailable, bodyUnavailable, "")
		return outcome{decision: DecisionUnavailable, reason: ReasonNoConfiguration}
	}
	// 1. Sanity.
	if refusedMethod(r.Method) {
		reply(w, http.StatusMethodNotAllowed, bodyMethod, "")
		return outcome{decision: DecisionMethod, reason: ReasonMethodRefused}
	}
	path, rawQuery, err := routes.Canonical(r.RequestURI)
	reason := ReasonInvalidPath
	if err == nil {
		err, reason = routes.CheckMethod(r.Method), ReasonInvalidMethod
	}
	if err == nil {
		reason, err = sanityHeaders(r)
	}
	if err != nil {
		reply(w, http.StatusBadRequest, bodyBadRequest, `Bearer error="invalid_request", error_description="`+quote(err.Error())+`"`)
		return outcome{decision: DecisionBadRequest, reason: reason}
	}
	origin := r.Header.Get("Origin")
	// 2. CORS preflight, before authentication (browsers send no token).
	if st.cors != nil && r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
		st.cors.preflight(w, r)
		return outcome{decision: DecisionPreflight, reason: ReasonNone}
	}
	if st.cors != nil {
		st.cors.decorate(w.Header(), origin)
	}
	// 3. Route. A path that matches nothing stays 404 even when its folded
	// form would match a protected rule: nothing is forwarded, so it already
	// fails closed, and a 404 tells a scanner nothing about which protected
	// routes exist (and costs it no fold check).
	idx := st.matcher.Match(r.Method, path)
	if idx < 0 {
		reply(w, http.StatusNotFound, bodyNotFound, "")
		return outcome{decision: DecisionNotFound, reason: ReasonNoRule}
	}
	rl := &st.rules[idx]
	tr.auth = rl.authLabel
	// Routing is exact and case-sensitive, but many apps fold case, drop
	// a trailing slash or a format suffix: /ADMIN, /admin/ or /admin.json
	// matched by a public catch-all would reach the app's /admin without
	// its checks. Refuse a request whose folded path matches a rule its
	// exact rule does not cover.
	if rl.exposes != nil {
		if f := st.matcher.NearMiss(r.Method, path, rl.formats, func(j int) bool { return rl.exposes[j] }); f >= 0 {
			reply(w, http.StatusBadRequest, bodyBadRequest, `Bearer error="invalid_request", error_description="`+DescNearMiss+`"`)
			return outcome{st.rules[f].label, DecisionBadRequest, ReasonNearMiss}
		}
	}
	var tok *verify.Token
	var a *authorizer
	var raw string
	// denied is the authorization refusal a route in Audit mode forwards
	// anyway; later checks that need what it refused are skipped.
	var denied outcome
	if !rl.public && len(rl.auths) == 0 {
		if st.refuse(w, &denied, http.StatusServiceUnavailable, bodyUnavailable, "", outcome{rl.label, DecisionUnavailable, ReasonAuthorizerUnavailable}) {
			return denied
		}
	} else if !rl.public {
		// 4. Token, at the identity source every candidate shares.
		src := &rl.auths[0].source
		var problem string
		raw, problem = extract(r, src, rawQuery)
		switch {
		case problem == "":
		case problem == noToken && rl.optional && rl.unavailable:
			// The unavailable candidate's token may be somewhere this
			// one's is not: nothing anonymous passes until it is back.
			if st.refuse(w, &denied, http.StatusServiceUnavailable, bodyUnavailable, "", outcome{rl.label, DecisionUnavailable, ReasonAuthorizerUnavailable}) {
				return denied
			}
		case problem == noToken && rl.optional:
			// Forwarded without claims, unless a token hides in a form body.
		case problem == noToken:
			if st.refuse(w, &denied, http.StatusUnauthorized, bodyUnauthorized, `Bearer realm="jwtgate"`, outcome{rl.label, DecisionUnauthorized, ReasonMissingToken}) {
				return denied
			}
		default:
			reply(w, http.StatusBadRequest, bodyBadRequest, `Bearer error="invalid_request", error_description="`+problem+`"`)
			return outcome{rl.label, DecisionBadRequest, tokenReason(problem, src)}
		}
		if raw != "" {
			// The token's iss picks the one candidate that verifies it:
			// no key of another issuer is ever tried.
			a = rl.auths[0]
			if len(rl.auths) > 1 || rl.unavailable {
				i := verify.IssuerIndex(raw, rl.issuers)
				switch {
				case i >= 0:
					a = rl.auths[i]
					tr.auth = a.name
				case rl.unavailable: // it may be the unavailable one's
					if st.refuse(w, &denied, http.StatusServiceUnavailable, bodyUnavailable, "", outcome{rl.label, DecisionUnavailable, ReasonAuthorizerUnavailable}) {
						return denied
					}
				default:
					if st.refuse(w, &denied, http.StatusUnauthorized, bodyUnauthorized, `Bearer error="invalid_token", error_description="`+DescNoIssuer+`"`, outcome{rl.label, DecisionUnauthorized, ReasonUnknownIssuer}) {
						return denied
					}
				}
			}
			// 5. Signature and claims (not of a token whose issuer Audit
			// mode let through unpicked).
			if denied.decision == "" {
				tok, err = a.verify(r.Context(), raw, h.now())
			}
			if err == nil {
				tr.tok = tok
			} else if st.refuseToken(w, &denied, rl.label, err) {
				return denied
			}
		}
		// A second token in a form body is looked for only now: a client
		// without a valid token never makes the sidecar read its body (but
		// on an optional-token rule, where such a client is forwarded, a
		// token in the body would reach the app unverified). From here on
		// the body is read under the idle deadline, by the form check as by
		// the app, so a stalled body cannot hold the check either.
		if body && !underDeadline {
			r = forwardBody(w, r, h.opts.BodyIdleTimeout)
			underDeadline = true
		}
		switch problem := formToken(r, src); {
		case stalled(r):
			reply(w, http.StatusRequestTimeout, bodyTimeout, "")
			return outcome{rl.label, DecisionBadRequest, ReasonBodyStalled}
		case problem == "":
		case problem == formTooLarge:
			reply(w, http.StatusRequestEntityTooLarge, bodyTooLarge, "")
			return outcome{rl.label, DecisionBadRequest, ReasonFormTooLarge}
		case problem == twoTokens && raw == "": // the only token is in the body
			reply(w, http.StatusBadRequest, bodyBadRequest, `Bearer error="invalid_request", error_description="`+src.misplaced+`"`)
			return outcome{rl.label, DecisionBadRequest, ReasonMisplaced}
		default:
			reply(w, http.StatusBadRequest, bodyBadRequest, `Bearer error="invalid_request", error_description="`+problem+`"`)
			return outcome{rl.label, DecisionBadRequest, tokenReason(problem, src)}
		}
		// 6. Scopes and claim requirements. Without a token only an
		// optional-token rule, which has none, or Audit mode gets here.
		switch {
		case tok == nil:
		case !authz.HasScopes(tok, a.scopeClaims, rl.scopes, rl.allOf):
			if st.refuse(w, &denied, http.StatusForbidden, bodyForbidden, rl.challenge, outcome{rl.label, DecisionForbidden, ReasonInsufficientScope}) {
				return denied
			}
		case !holdsAll(tok, rl.claims):
			if st.refuse(w, &denied, http.StatusForbidden, bodyForbidden, rl.challenge, outcome{rl.label, DecisionForbidden, ReasonClaimNotMet}) {
				return denied
			}
		}
	}
	// 7. Forward (a body not yet under the idle deadline goes under it now).
	// In Audit mode the app learns the decision; a token Audit let through
	// unverified brings no claims (tok is nil).
	h.prepare(r, st, rl, a, tok, raw, path)
	if st.audit {
		decision := DecisionAllowed
		if denied.decision != "" {
			decision = denied.decision
		}
		r.Header[config.DecisionHeader] = []string{decision}
	}
	if body && !underDeadline {
		r = forwardBody(w, r, h.opts.BodyIdleTimeout)
	}
	forwarding = true
	tr.decided = h.now()
	h.proxy.ServeHTTP(w, r)
	if denied.decision != "" {
		return denied
	}
	return outcome{rl.label, DecisionAllowed, ReasonNone}
}

// holdsAll reports whether tok meets every claim requirement.
func holdsAll(tok *verify.Token, claims []config.ClaimRequirement) bool {
	for i := range claims {
		if !authz.Holds(tok, &claims[i]) {
			return false
		}
	}
	return true
}

var (
	errH2C            = errors.New("upgrade to h2c is not supported")
	errMethodOverride = errors.New("method override headers are not allowed")
)

// sanityHeaders refuses requests whose meaning a later hop could change.
func sanityHeaders(r *http.Request) (Reason, error) {
	for _, up := range r.Header.Values("Upgrade") {
		if strings.Contains(strings.ToLower(up), "h2c") {
			return ReasonH2CUpgrade, errH2C
		}
	}
	for name := range r.Header {
		for _, m := range methodOverrideHeaders {
			if equalHeader(name, m) {
				return ReasonMethodOverride, errMethodOverride
			}
		}
	}
	return ReasonNone, nil
}

// prepare shapes the inbound request for forwarding: the routed path, no
// client copies of headers the sidecar sets, no Connection-named headers
// (so a client cannot make a hop drop ours), then the claim headers and
// the token (raw) as the rule or a, which accepted tok, says.
func (h *Handler) prepare(r *http.Request, st *state, rl *rule, a *authorizer, tok *verify.Token, raw, path string) {
	r.URL.Scheme = st.upstream.Scheme
	r.URL.Host = st.upstream.Host
	r.URL.Path = singleJoin(st.upstream.Path, path)
	r.URL.RawPath = ""
	hdr := r.Header
	// Connection may list header names; drop them now, keeping only an
	// Upgrade token so WebSocket handshakes still pass.
	upgrade := false
	for _, v := range hdr.Values("Connection") {
		for _, f := range strings.Split(v, ",") {
			f = strings.TrimSpace(f)
			if strings.EqualFold(f, "Upgrade") {
				upgrade = true
				continue
			}
			if f != "" {
				strip(hdr, config.NormalizeHeader(f))
			}
		}
	}
	hdr.Del("Connection")
	if upgrade && hdr.Get("Upgrade") != "" {
		hdr.Set("Connection", "Upgrade")
	}
	strip(hdr, st.strip...)
	roomForForwarded(hdr)
	if tok == nil {
		return
	}
	headers, fwd := a.headers, a.fwd
	if rl.headers != nil {
		headers = rl.headers
	}
	if rl.fwd != nil {
		fwd = *rl.fwd
	}
	// One backing array for all the values this sets: the claims, each
	// claim header, the moved token.
	vals := make([]string, 2+len(headers))
	vals[0] = tok.Payload
	hdr[config.ClaimsHeader] = vals[0:1:1]
	for i, ch := range headers {
		if v, ok := authz.HeaderValue(authz.Lookup(tok, ch.Claim, ch.Path)); ok {
			vals[i+1] = v
			hdr[ch.Header] = vals[i+1 : i+2 : i+2]
		}
	}
	if !fwd.keep || fwd.header != "" {
		dropToken(r, &a.source)
	}
	if fwd.keep && fwd.header != "" {
		vals[len(vals)-1] = raw
		hdr[fwd.header] = vals[len(vals)-1:]
	}
}

// forwardedNames are the headers rewrite sets on the outbound request.
var forwardedNames = [...]string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"}

// roomForForwarded gives hdr a nil entry for each X-Forwarded-* it lacks.
// ReverseProxy's copy of hdr is sized to its entries and would otherwise
// grow (3 allocations a request) when rewrite adds them; it keeps nil
// entries and deletes these names before rewrite runs, and a nil entry is
// never sent.
func roomForForwarded(hdr http.Header) {
	for _, k := range forwardedNames {
		if _, ok := hdr[k]; !ok {
			hdr[k] = nil
		}
	}
}

// strip deletes every spelling (any case, '_' for '-') of the normalised
// names, except the canonical X-Forwarded-For: rewrite extends its chain, as
// SetXForwarded does.
func strip(h http.Header, norms ...string) {
	for name := range h {
		if name == "X-Forwarded-For" {
			continue
		}
		for _, s := range norms {
			if equalHeader(name, s) {
				delete(h, name)
				break
			}
		}
	}
}

// equalHeader compares a header name with a normalised one (lower case,
// '-' for '_') without allocating.
func equalHeader(name, norm string) bool {
	if len(name) != len(norm) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		} else if c == '_' {
			c = '-'
		}
		if c != norm[i] {
			return false
		}
	}
	return true
}

func singleJoin(base, p string) string {
	if base == "" || base == "/" {
		return p
	}
	return strings.TrimSuffix(base, "/") + p
}

// rewrite runs inside ReverseProxy after it removed hop-by-hop and
// client-sent X-Forwarded-* headers. It does what ProxyRequest.SetXForwarded
// does (keeping a prior X-Forwarded-For chain), with one allocation for the
// three values instead of three.
func rewrite(pr *httputil.ProxyRequest) {
	pr.Out.Host = pr.In.Host // the app sees the Host the client used
	vals := make([]string, 3)
	h := pr.Out.Header
	if clientIP, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
		if prior := pr.In.Header.Values("X-Forwarded-For"); len(prior) > 0 {
			clientIP = strings.Join(prior, ", ") + ", " + clientIP
		}
		vals[0] = clientIP
		h["X-Forwarded-For"] = vals[0:1:1]
	}
	vals[1] = pr.In.Host
	h["X-Forwarded-Host"] = vals[1:2:2]
	vals[2] = "http"
	if pr.In.TLS != nil {
		vals[2] = "https"
	}
	h["X-Forwarded-Proto"] = vals[2:3:3]
}

var appCORSHeaders = [...]string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Expose-Headers"}

func (h *Handler) modifyResponse(resp *http.Response) error {
	// The sidecar owns CORS when configured: the app's own allow headers
	// would otherwise be duplicated or contradict the policy.
	if st := h.state.Load(); st != nil && st.cors != nil {
		for _, k := range appCORSHeaders {
			delete(resp.Header, k) // canonical already; Del would re-canonicalise per request
		}
	}
	return nil
}

func (h *Handler) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if hasBody(r) { // what is left of the body may never come
		closeUnread(w)
		linger(w)
	}
	if stalled(r) {
		h.log.Info("request body stalled; answered 408", "path", r.URL.Path, "idle", h.opts.BodyIdleTimeout.String())
		reply(w, http.StatusRequestTimeout, bodyTimeout, "")
		return
	}
	h.log.Warn("upstream request failed", "path", r.URL.Path, "error", err.Error())
	reply(w, http.StatusBadGateway, bodyBadGateway, "")
}

// bufferPool reuses 32 KiB copy buffers across proxied bodies.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { return new([32 << 10]byte) }}

func (bufferPool) Get() []byte { return buffers.Get().(*[32 << 10]byte)[:] }
func (bufferPool) Put(b []byte) {
	if len(b) == 32<<10 {
		buffers.Put((*[32 << 10]byte)(b))
	}
}
