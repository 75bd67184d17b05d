package main

import (
	"context"
	"flag"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/jwtgate/jwtgate/internal/uninstall"
)

// cleanupCommand is the subcommand the chart's post-delete hook runs:
// `manager cleanup --namespace=... --operator-selector=...`.
const cleanupCommand = "cleanup"

// runCleanup runs `manager cleanup ARGS` (see internal/uninstall).
func runCleanup(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet(cleanupCommand, flag.ContinueOnError)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	flags := uninstall.BindFlags(fs, uninstall.LeaderElectionID)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: %s takes flags only", fs.Args(), cleanupCommand)
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	o, err := flags.Options()
	if err != nil {
		return err
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("no cluster to clean up: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: newScheme()})
	if err != nil {
		return err
	}
	log := ctrl.Log.WithName("cleanup")
	r, err := uninstall.Run(ctx, c, o, log)
	if err != nil {
		return err
	}
	log.Info("jwtgate uninstalled", "operatorPodsLeft", r.OperatorPodsLeft, "webhookSecretDeleted", r.SecretDeleted,
		"leaseDeleted", r.LeaseDeleted, "routesMarked", r.Routes, "authorizersMarked", r.Authorizers)
	return nil
}
