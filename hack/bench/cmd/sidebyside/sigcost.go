package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/jwtgate/jwtgate/hack/bench/token"
)

// sigCost is the signature check alone, in µs, on the proxies' CPU.
type sigCost struct{ RS256, ES256 float64 }

// measureSignature runs this program's sigcost subcommand pinned to cpu,
// so the figure comes from the same core and moment as the proxies'.
func measureSignature(ctx context.Context, self, cpu string) (sigCost, error) {
	out, err := exec.CommandContext(ctx, "taskset", "-c", cpu, self, "sigcost").Output()
	if err != nil {
		return sigCost{}, fmt.Errorf("measuring the signature check: %w", err)
	}
	var c sigCost
	if err := json.Unmarshal(out, &c); err != nil {
		return sigCost{}, fmt.Errorf("measuring the signature check: %q: %w", out, err)
	}
	return c, nil
}

// printSignatureCost measures jwx's RS256 and ES256 verification of the
// run's token shape and prints the µs of CPU per check as JSON. CPU time,
// not wall time, as for the proxies: on a shared core a wall-clock
// benchmark also counts the time other processes ran.
func printSignatureCost([]string) error {
	keys, err := token.NewKeys()
	if err != nil {
		return err
	}
	var c sigCost
	for alg, dst := range map[string]*float64{"RS256": &c.RS256, "ES256": &c.ES256} {
		tok, err := keys.Sign(alg, token.Good("http://127.0.0.1:40000/", time.Now(), "sigcost"))
		if err != nil {
			return err
		}
		v, err := keys.NewVerifier(alg, tok)
		if err != nil {
			return err
		}
		if err := v.Verify(); err != nil {
			return fmt.Errorf("%s token does not verify: %w", alg, err)
		}
		*dst = cpuPerCall(v.Verify)
	}
	return json.NewEncoder(os.Stdout).Encode(c)
}

// cpuPerCall runs f for at least half a second of this process's CPU time
// (garbage collection included, as the proxies pay it) and returns µs per call.
func cpuPerCall(f func() error) float64 {
	start := processCPU()
	n := 0
	for processCPU()-start < 500*time.Millisecond {
		for range 100 {
			_ = f()
		}
		n += 100
	}
	return float64((processCPU() - start).Microseconds()) / float64(n)
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
