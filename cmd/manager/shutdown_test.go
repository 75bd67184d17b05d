package main

import (
	"context"
	"testing"
	"time"
)

// After SIGTERM the manager keeps serving for the shutdown delay, so webhook calls that
// kube-proxy still routes to the pod are answered; then it stops.
func TestDelayedEndsOnlyAfterTheDelay(t *testing.T) {
	signalled, signal := context.WithCancel(context.Background())
	ctx := delayed(signalled, 300*time.Millisecond)
	signal()
	select {
	case <-ctx.Done():
		t.Fatal("the manager's context ended with the signal, before the shutdown delay")
	case <-time.After(100 * time.Millisecond):
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the manager's context did not end after the shutdown delay")
	}
}

func TestDelayedWithoutDelayEndsWithTheSignal(t *testing.T) {
	signalled, signal := context.WithCancel(context.Background())
	ctx := delayed(signalled, 0)
	signal()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the manager's context did not end with the signal")
	}
}
