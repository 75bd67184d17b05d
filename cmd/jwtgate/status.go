package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/controller"
	"github.com/jwtgate/jwtgate/internal/inject"
)

// status lists, per route, the pods it selects and which of them run behind
// the sidecar, from the counts and the PodsGuarded condition the operator
// writes and the jwtgate.io/status annotation the webhook puts on pods.
func status(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("jwtgate status", flag.ContinueOnError)
	fs.SetOutput(out)
	var k kubeFlags
	k.register(fs)
	ns := fs.String("n", "", "namespace (default: the kubeconfig context's)")
	all := fs.Bool("A", false, "every namespace")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("status takes no arguments, got %q", pos)
	}
	rc, current, err := k.restConfig()
	if err != nil {
		return err
	}
	c, err := newClient(rc)
	if err != nil {
		return err
	}
	sidecars, err := newSidecarReader(rc)
	if err != nil {
		return err
	}
	var opts []client.ListOption
	switch {
	case *all:
	case *ns != "":
		opts = append(opts, client.InNamespace(*ns))
	default:
		opts = append(opts, client.InNamespace(current))
	}
	var list v1alpha1.ProtectedRouteList
	if err := c.List(ctx, &list, opts...); err != nil {
		return err
	}
	if len(list.Items) == 0 {
		_, err := fmt.Fprintln(out, "No ProtectedRoutes found.")
		return err
	}
	routes := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
	fmt.Fprintln(routes, "NAMESPACE\tROUTE\tMODE\tREADY\tPODS\tSIDECARS\tGUARDED\tCONFIG")
	pods := []string{"NAMESPACE\tROUTE\tPOD\tSIDECAR\tIMAGE\tCURRENT\tINJECTED CONFIG\tENFORCED CONFIG"}
	var notes []string
	for i := range list.Items {
		r := &list.Items[i]
		st := r.Status
		mode := r.Spec.Mode
		if mode == "" {
			mode = v1alpha1.RouteModeEnforce
		}
		fmt.Fprintf(routes, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", r.Namespace, r.Name, mode, conditionStatus(r, v1alpha1.ConditionReady),
			st.SelectedPods, st.GuardedPods, conditionStatus(r, v1alpha1.ConditionPodsGuarded), short(st.ConfigHash))
		rows, podNotes, err := podRows(ctx, c, sidecars, r)
		if err != nil {
			return err
		}
		pods = append(pods, rows...)
		for _, typ := range []string{v1alpha1.ConditionPodsGuarded, v1alpha1.ConditionSidecarsCurrent} {
			if g := meta.FindStatusCondition(st.Conditions, typ); g != nil && g.Status != metav1.ConditionTrue {
				notes = append(notes, fmt.Sprintf("%s/%s: %s %s (%s): %s", r.Namespace, r.Name, g.Type, g.Status, g.Reason, g.Message))
			}
		}
		notes = append(notes, podNotes...)
		if mode == v1alpha1.RouteModeAudit {
			notes = append(notes, fmt.Sprintf("%s/%s: mode is Audit: the rules are NOT enforced (requests they refuse reach the app)", r.Namespace, r.Name))
		}
	}
	if err := routes.Flush(); err != nil {
		return err
	}
	if len(pods) > 1 {
		fmt.Fprintln(out)
		tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
		for _, row := range pods {
			fmt.Fprintln(tw, row)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(out)
	}
	seen := map[string]bool{}
	for _, n := range notes {
		if !seen[n] { // routes of one namespace share a pods/proxy refusal
			seen[n] = true
			fmt.Fprintln(out, n)
		}
	}
	return nil
}

// podRows lists the pods r selects (metadata only, as the operator reads
// them): whether the webhook injected the sidecar, with which image, whether
// that is still the sidecar the webhook injects (as the operator reports it
// in status), the configuration hash recorded at injection (the sidecar
// follows its ConfigMap afterwards, so an older one is not stale
// enforcement by itself) and the hash the sidecar says it enforces. notes
// say why an enforced hash is missing.
func podRows(ctx context.Context, c client.Client, sidecars *sidecarReader, r *v1alpha1.ProtectedRoute) (rows, notes []string, err error) {
	if len(r.Spec.Selector.MatchLabels) == 0 {
		return nil, nil, nil
	}
	pods := &metav1.PartialObjectMetadataList{}
	pods.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PodList"))
	if err := c.List(ctx, pods, client.InNamespace(r.Namespace), client.MatchingLabels(r.Spec.Selector.MatchLabels)); err != nil {
		return nil, nil, err
	}
	now := inject.Template{Image: r.Status.SidecarImage, Hash: r.Status.SidecarTemplateHash}
	var forbidden error
	for i := range pods.Items {
		p := &pods.Items[i]
		row := []string{r.Namespace, r.Name, p.Name, "NO", "-", "-", "-", "-"}
		if controller.Guarded(p) {
			row[3] = "yes"
			if s, err := inject.ParseStatus(p.Annotations[inject.StatusAnnotation]); err == nil {
				row[4], row[5], row[6] = orDash(s.Image), currentness(now, s), hashCell(s.ConfigHash, r.Status.ConfigHash)
			}
			hash, err := sidecars.enforced(ctx, r.Namespace, p.Name)
			var fe *errProxyForbidden
			switch {
			case errors.As(err, &fe):
				forbidden = err
			case err != nil:
				notes = append(notes, fmt.Sprintf("%s/%s: enforced config unknown: %v", r.Namespace, p.Name, err))
			default:
				row[7] = hashCell(hash, r.Status.ConfigHash)
			}
		}
		rows = append(rows, strings.Join(row, "\t"))
	}
	if forbidden != nil {
		notes = append(notes, "ENFORCED CONFIG: "+forbidden.Error())
	}
	return rows, notes, nil
}

// currentness says whether a pod's sidecar is the one the webhook injects
// now: "yes", "STALE", or "-" when the operator has not reported its
// settings.
func currentness(now inject.Template, s inject.Status) string {
	switch {
	case now.Image == "" || s.Image == "":
		return "-"
	case now.Current(s):
		return "yes"
	}
	return "STALE"
}

// hashCell abbreviates a configuration hash, marking the route's own.
func hashCell(hash, routeHash string) string {
	if hash == "" {
		return "-"
	}
	if hash == routeHash {
		return short(hash) + " (current)"
	}
	return short(hash)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func conditionStatus(r *v1alpha1.ProtectedRoute, typ string) string {
	if c := meta.FindStatusCondition(r.Status.Conditions, typ); c != nil {
		return string(c.Status)
	}
	return "Unknown"
}

// short abbreviates a sha256: hash as kubectl abbreviates image digests.
func short(hash string) string {
	const keep = len("sha256:") + 12
	switch {
	case hash == "":
		return "-"
	case len(hash) > keep:
		return hash[:keep]
	}
	return hash
}
