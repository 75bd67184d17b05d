package reload

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jwtgate/jwtgate/sidecar/config"
)

// ParseConfigMapRef splits "NAMESPACE/NAME".
func ParseConfigMapRef(s string) (namespace, name string, err error) {
	ns, n, ok := strings.Cut(s, "/")
	if !ok || ns == "" || n == "" || strings.Contains(n, "/") {
		return "", "", fmt.Errorf("--configmap %q must be NAMESPACE/NAME", s)
	}
	return ns, n, nil
}

// objectMeta, ownerReference and configMap are the fields of a ConfigMap
// the sidecar reads.
type objectMeta struct {
	Name            string           `json:"name"`
	Namespace       string           `json:"namespace"`
	UID             string           `json:"uid,omitempty"`
	ResourceVersion string           `json:"resourceVersion,omitempty"`
	OwnerReferences []ownerReference `json:"ownerReferences,omitempty"`
}

type ownerReference struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	UID        string `json:"uid"`
	Controller *bool  `json:"controller,omitempty"`
}

type configMap struct {
	Metadata objectMeta        `json:"metadata"`
	Data     map[string]string `json:"data"`
}

// watchEvent is one line of a watch stream; an ERROR's object is a Status.
type watchEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

// Retry bounds after a failed list or watch; watchTimeout is how long the
// API server keeps one watch open (randomised between it and twice it, so
// that sidecars do not reconnect in step).
var (
	retryMin     = 800 * time.Millisecond
	retryMax     = 30 * time.Second
	watchTimeout = 5 * time.Minute
	listTimeout  = 30 * time.Second
)

// WatchConfigMap watches one ConfigMap by name (list, then watch from the
// list's resourceVersion with a field selector; a watch that ends is
// resumed from the last resourceVersion seen, and one too old, 410 Gone, is
// replaced by a new list) and offers its config.json key to r. Failures are
// retried with exponential backoff; while the API is unreachable or the
// ConfigMap is deleted, r falls back to the mounted file and the last good
// configuration stays in force meanwhile. A refused configuration is also
// reported as an Event (see refusalReporter). It returns when ctx ends.
func WatchConfigMap(ctx context.Context, cfg *APIConfig, namespace, name string, r *Reloader, log *slog.Logger) error {
	client, err := newAPIClient(cfg)
	if err != nil {
		return err
	}
	log = log.With("configmap", namespace+"/"+name)
	w := &cmWatch{
		api:      client,
		path:     "/api/v1/namespaces/" + url.PathEscape(namespace) + "/configmaps",
		selector: "metadata.name=" + name,
		r:        r,
		log:      log,
		reporter: &refusalReporter{api: client, instance: instance(), log: log},
	}
	w.run(ctx)
	return nil
}

// cmWatch is one ConfigMap's list and watch loop.
type cmWatch struct {
	api      *apiClient
	path     string
	selector string
	r        *Reloader
	log      *slog.Logger
	reporter *refusalReporter
	// present: the ConfigMap existed at the last list or event, so its
	// absence from a later list is a deletion.
	present bool
	// seen is the newest resourceVersion delivered.
	seen string
}

func (w *cmWatch) run(ctx context.Context) {
	backoff := retryMin
	var rv string // "" lists; otherwise the watch resumes from it
	for ctx.Err() == nil {
		var err error
		start, listing := time.Now(), rv == ""
		if listing {
			rv, err = w.list(ctx)
		} else {
			rv, err = w.watch(ctx, rv)
		}
		switch {
		case ctx.Err() != nil:
			return
		case err == nil:
			backoff = retryMin
			if !listing && time.Since(start) < time.Second { // a server ending watches at once: do not spin
				sleep(ctx, retryMin)
			}
			continue
		case gone(err): // history compacted past rv: list again at once
			w.log.Info("ConfigMap watch expired; listing again", "error", err.Error())
			rv = ""
			continue
		}
		w.log.Warn("ConfigMap watch failed; using the mounted file until it recovers", "error", err.Error(), "retryIn", backoff.String())
		w.r.SetAPILive(false)
		sleep(ctx, backoff+rand.N(backoff/4)) //nolint:gosec // jitter, not a secret
		backoff = min(2*backoff, retryMax)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// list reads the ConfigMap and returns the list's resourceVersion.
func (w *cmWatch) list(ctx context.Context) (string, error) {
	q := url.Values{"fieldSelector": {w.selector}, "resourceVersion": {"0"}} // from the API server's cache, as informers list
	if w.seen != "" {
		// Never older than what was delivered: an older configuration
		// must not come back after a watch expired.
		q.Set("resourceVersion", w.seen)
		q.Set("resourceVersionMatch", "NotOlderThan")
	}
	ctx, cancel := context.WithTimeout(ctx, listTimeout) // a server that never answers
	defer cancel()
	res, err := w.api.do(ctx, http.MethodGet, w.path+"?"+q.Encode(), nil, http.StatusOK)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var l struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
		Items []configMap `json:"items"`
	}
	if err := json.NewDecoder(res.Body).Decode(&l); err != nil {
		return "", fmt.Errorf("reading the ConfigMap list: %w", err)
	}
	if l.Metadata.ResourceVersion == "" {
		return "", fmt.Errorf("the ConfigMap list has no resourceVersion")
	}
	w.seen = l.Metadata.ResourceVersion
	switch {
	case len(l.Items) > 0:
		w.offer(ctx, &l.Items[0])
	case w.present:
		w.deleted()
	}
	return l.Metadata.ResourceVersion, nil
}

// watch follows the ConfigMap from rv until the server ends the watch, and
// returns the last resourceVersion seen.
func (w *cmWatch) watch(ctx context.Context, rv string) (string, error) {
	timeout := watchTimeout + rand.N(watchTimeout) //nolint:gosec // spreading reconnects, not a secret
	q := url.Values{"watch": {"true"}, "fieldSelector": {w.selector}, "resourceVersion": {rv},
		"allowWatchBookmarks": {"true"}, "timeoutSeconds": {fmt.Sprint(int(timeout.Seconds()))}}
	ctx, cancel := context.WithTimeout(ctx, timeout+time.Minute) // a server that stops talking
	defer cancel()
	res, err := w.api.do(ctx, http.MethodGet, w.path+"?"+q.Encode(), nil, http.StatusOK)
	if err != nil {
		return rv, err
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	for {
		var ev watchEvent
		if err := dec.Decode(&ev); err == io.EOF {
			return rv, nil // the server's timeout: resume from rv
		} else if err != nil {
			return rv, fmt.Errorf("reading the ConfigMap watch: %w", err)
		}
		if ev.Type == "ERROR" {
			st := &apiStatus{}
			if err := json.Unmarshal(ev.Object, st); err != nil || st.Code == 0 {
				return rv, fmt.Errorf("the ConfigMap watch ended with an error event: %s", ev.Object)
			}
			return rv, st
		}
		var cm configMap
		if err := json.Unmarshal(ev.Object, &cm); err != nil {
			return rv, fmt.Errorf("reading a ConfigMap watch event: %w", err)
		}
		if cm.Metadata.ResourceVersion != "" {
			rv, w.seen = cm.Metadata.ResourceVersion, cm.Metadata.ResourceVersion
		}
		switch ev.Type {
		case "ADDED", "MODIFIED":
			w.offer(ctx, &cm)
		case "DELETED":
			w.deleted()
		}
	}
}

func (w *cmWatch) offer(ctx context.Context, cm *configMap) {
	w.present = true
	raw, ok := cm.Data[config.ConfigMapKey]
	if !ok {
		w.log.Warn("ConfigMap has no " + config.ConfigMapKey + " key; the previous configuration stays in force")
		return
	}
	err := w.r.Offer(SourceAPI, []byte(raw))
	if err == nil {
		w.r.SetAPILive(true)
		return
	}
	w.reporter.report(ctx, cm, []byte(raw), err)
}

func (w *cmWatch) deleted() {
	w.present = false
	w.log.Warn("ConfigMap deleted; keeping the configuration in force and falling back to the mounted file")
	w.r.SetAPILive(false)
}

// Refusal Events: a Warning with this reason, from this controller, for
// each pod that refuses a configuration.
const (
	EventReason         = "ConfigRefused"
	EventAction         = "Reload"
	ReportingController = "jwtgate-sidecar"
)

// eventNoteLimit is the API server's limit on an Event's note, in bytes.
const eventNoteLimit = 1024

// refusalReporter records a Warning Event when this pod refuses a
// configuration from its ConfigMap, once per configuration, regarding the
// ProtectedRoute that controls the ConfigMap (the ConfigMap itself when none
// does): `kubectl describe protectedroute` then names the pods that cannot
// enforce it. Only API offers are reported: the mounted file carries the same
// bytes later, and without the API no Event could be written anyway.
type refusalReporter struct {
	api      *apiClient
	instance string // this pod
	log      *slog.Logger
	last     string // hash last reported; a relist delivers the ConfigMap again
}

// objectReference and event are the fields of an events.k8s.io/v1 Event
// the sidecar writes.
type objectReference struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	UID        string `json:"uid,omitempty"`
}

type event struct {
	APIVersion          string           `json:"apiVersion"`
	Kind                string           `json:"kind"`
	Metadata            objectMeta       `json:"metadata"`
	EventTime           string           `json:"eventTime"`
	ReportingController string           `json:"reportingController"`
	ReportingInstance   string           `json:"reportingInstance"`
	Action              string           `json:"action"`
	Reason              string           `json:"reason"`
	Type                string           `json:"type"`
	Regarding           objectReference  `json:"regarding"`
	Related             *objectReference `json:"related,omitempty"`
	Note                string           `json:"note"`
}

// microTime is the API's MicroTime format.
const microTime = "2006-01-02T15:04:05.000000Z07:00"

func (e *refusalReporter) report(ctx context.Context, cm *configMap, raw []byte, refusal error) {
	hash := config.Hash(raw)
	if hash == e.last {
		return
	}
	e.last = hash
	ns := cm.Metadata.Namespace
	cmRef := objectReference{APIVersion: "v1", Kind: "ConfigMap", Namespace: ns, Name: cm.Metadata.Name, UID: cm.Metadata.UID}
	regarding, related := cmRef, (*objectReference)(nil)
	for _, o := range cm.Metadata.OwnerReferences {
		if o.Controller != nil && *o.Controller {
			regarding = objectReference{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: ns, Name: o.Name, UID: o.UID}
			related = &cmRef
		}
	}
	note := fmt.Sprintf("pod %s refused configuration %s (%s) and keeps enforcing its previous one: %v",
		e.instance, hash, RefusalResult(refusal), refusal)
	now := time.Now()
	body, err := json.Marshal(event{
		APIVersion: "events.k8s.io/v1", Kind: "Event",
		// Named as client-go's recorders name Events.
		Metadata:            objectMeta{Name: fmt.Sprintf("%s.%x", regarding.Name, now.UnixNano()), Namespace: ns},
		EventTime:           now.UTC().Format(microTime),
		ReportingController: ReportingController,
		ReportingInstance:   e.instance,
		Action:              EventAction,
		Reason:              EventReason,
		Type:                "Warning",
		Regarding:           regarding,
		Related:             related,
		Note:                truncate(note, eventNoteLimit),
	})
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var res *http.Response
		if res, err = e.api.do(ctx, http.MethodPost, "/apis/events.k8s.io/v1/namespaces/"+url.PathEscape(ns)+"/events", body, http.StatusCreated); err == nil {
			res.Body.Close()
		}
	}
	if err != nil {
		e.log.Warn("could not record the refusal as an Event; metrics, log and /configz still report it", "error", err.Error())
	}
}

// instance names this pod: its hostname, which Kubernetes sets to the pod name.
func instance() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return ReportingController
}

// truncate cuts s to at most n bytes on a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
