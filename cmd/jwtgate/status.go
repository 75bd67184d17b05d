package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
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
	c, current, err := k.client()
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
	pods := []string{"NAMESPACE\tROUTE\tPOD\tSIDECAR\tINJECTED CONFIG"}
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
		rows, err := podRows(ctx, c, r)
		if err != nil {
			return err
		}
		pods = append(pods, rows...)
		if g := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionPodsGuarded); g != nil && g.Status != metav1.ConditionTrue {
			notes = append(notes, fmt.Sprintf("%s/%s: %s %s (%s): %s", r.Namespace, r.Name, g.Type, g.Status, g.Reason, g.Message))
		}
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
	for _, n := range notes {
		fmt.Fprintln(out, n)
	}
	return nil
}

// podRows lists the pods r selects (metadata only, as the operator reads
// them): whether the webhook injected the sidecar, and the configuration
// hash it recorded then (the sidecar follows its ConfigMap afterwards, so
// an older hash is not stale enforcement by itself).
func podRows(ctx context.Context, c client.Client, r *v1alpha1.ProtectedRoute) ([]string, error) {
	if len(r.Spec.Selector.MatchLabels) == 0 {
		return nil, nil
	}
	pods := &metav1.PartialObjectMetadataList{}
	pods.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PodList"))
	if err := c.List(ctx, pods, client.InNamespace(r.Namespace), client.MatchingLabels(r.Spec.Selector.MatchLabels)); err != nil {
		return nil, err
	}
	var rows []string
	for i := range pods.Items {
		p := &pods.Items[i]
		sidecar, injected := "NO", "-"
		if controller.Guarded(p) {
			sidecar = "yes"
			var s inject.Status
			if json.Unmarshal([]byte(p.Annotations[inject.StatusAnnotation]), &s) == nil && s.ConfigHash != "" {
				injected = short(s.ConfigHash)
				if s.ConfigHash == r.Status.ConfigHash {
					injected += " (current)"
				}
			}
		}
		rows = append(rows, fmt.Sprintf("%s\t%s\t%s\t%s\t%s", r.Namespace, r.Name, p.Name, sidecar, injected))
	}
	return rows, nil
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
