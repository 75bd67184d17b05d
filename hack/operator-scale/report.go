package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jwtgate/jwtgate/sidecar/memlimit"
)

// Targets the report judges.
const (
	targetReconcilesPerSecond = 100
	targetRSS                 = 256 << 20 // the chart's memory limit
)

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func seconds(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// perSecond is the route reconciles per second from the first to the last.
func (r result) perSecond() float64 {
	if r.reconciling <= 0 {
		return 0
	}
	return r.reconciles / r.reconciling.Seconds()
}

func (r result) requests() float64 {
	var n float64
	for _, v := range r.requestsByMethod {
		n += v
	}
	return n
}

// routeWrites counts the API server's writes to what the operator makes
// for routes: their status and their ConfigMaps, Roles, RoleBindings and
// NetworkPolicies (Events are counted apart).
func (r result) routeWrites() float64 {
	var n float64
	for _, res := range []string{"protectedroutes/status", "configmaps", "roles", "rolebindings", "networkpolicies"} {
		n += r.apiWritesByObject[res]
	}
	return n
}

// printReport writes the phases' figures and the targets as Markdown.
func printReport(w io.Writer, o options, results []result) {
	fmt.Fprintf(w, "\n%d namespaces, one JWTAuthorizer and one pod in each; routes spread evenly, each with 3 rules", o.namespaces)
	if o.services {
		fmt.Fprint(w, " and a headless Service")
	}
	fmt.Fprint(w, ".")
	if limit := o.memoryLimit.Value(); limit > 0 {
		fmt.Fprintf(w, " The operator runs as under a %s memory limit (GOMEMLIMIT %s).", o.memoryLimit.String(), mib(int64(float64(limit)*memlimit.OperatorFraction)))
	}
	fmt.Fprint(w, "\n\n")
	header := []string{"phase"}
	for _, r := range results {
		header = append(header, r.name)
	}
	rows := [][]string{header, make([]string, len(header))}
	for i := range rows[1] {
		rows[1][i] = "---"
	}
	row := func(name string, cell func(result) string) {
		cells := []string{name}
		for _, r := range results {
			cells = append(cells, cell(r))
		}
		rows = append(rows, cells)
	}
	row("creating the routes (and Services)", func(r result) string { return seconds(r.created) })
	row("until every route is Ready", func(r result) string { return seconds(r.ready) })
	row("until the operator is idle", func(r result) string { return seconds(r.busy) })
	row("ProtectedRoute reconciles (errors)", func(r result) string {
		return fmt.Sprintf("%.0f (%.0f)", r.reconciles, r.reconcileErrors)
	})
	row("from the first route reconcile to the last", func(r result) string { return seconds(r.reconciling) })
	row("route reconciles per second in that time", func(r result) string { return fmt.Sprintf("%.0f", r.perSecond()) })
	row("operator CPU (per route reconcile)", func(r result) string {
		return fmt.Sprintf("%.1f s (%.1f ms)", r.cpu, 1000*r.cpu/max(r.reconciles, 1))
	})
	row("JWTAuthorizer reconciles", func(r result) string { return fmt.Sprintf("%.0f", r.authorizerRecons) })
	row("operator API requests per route reconcile", func(r result) string {
		return fmt.Sprintf("%.2f (%s)", r.requests()/max(r.reconciles, 1), perMethod(r.requestsByMethod, r.reconciles))
	})
	row("owned-object writes (operator's count)", func(r result) string { return counts(r.objectWrites) })
	row("writes the API server saw", func(r result) string { return counts(r.apiWritesByObject) })
	row("operator VmRSS at rest / peak sampled", func(r result) string { return mib(r.mem.rss) + " / " + mib(r.peakRSS) })
	row("operator VmHWM (process lifetime)", func(r result) string { return mib(r.mem.hwm) })
	row("Go heap in use at rest", func(r result) string { return mib(int64(r.heap)) })
	for _, cells := range rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	printTargets(w, results)
}

// perMethod lists requests per reconcile by HTTP method.
func perMethod(byMethod map[string]float64, reconciles float64) string {
	var parts []string
	for _, m := range slices.Sorted(maps.Keys(byMethod)) {
		parts = append(parts, fmt.Sprintf("%s %.2f", m, byMethod[m]/max(reconciles, 1)))
	}
	return strings.Join(parts, ", ")
}

func counts(m map[string]float64) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func printTargets(w io.Writer, results []result) {
	var fastest float64
	var largest result
	var restartWrites float64
	for _, r := range results {
		fastest = max(fastest, r.perSecond())
		if r.routes >= largest.routes {
			largest = r
		}
		if strings.HasPrefix(r.name, "restart") {
			restartWrites += r.routeWrites()
		}
	}
	peak := largest.peakRSS
	for _, r := range results {
		if r.routes == largest.routes {
			peak = max(peak, r.peakRSS, r.mem.hwm)
		}
	}
	fmt.Fprint(w, "\n| target | measured | met |\n|---|---|---|\n")
	fmt.Fprintf(w, "| at least %d route reconciles per second | %.0f (best phase) | %s |\n", targetReconcilesPerSecond, fastest, yes(fastest >= targetReconcilesPerSecond))
	fmt.Fprintf(w, "| operator RSS at %d routes under %s | peak %s | %s |\n", largest.routes, mib(targetRSS), mib(peak), yes(peak < targetRSS))
	fmt.Fprintf(w, "| no write for an unchanged route (every restart) | %.0f writes to route status, ConfigMaps, Roles, RoleBindings, NetworkPolicies | %s |\n",
		restartWrites, yes(restartWrites == 0))
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}
