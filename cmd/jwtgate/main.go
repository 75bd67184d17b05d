// Command jwtgate explains and inspects jwtgate routes: which rule a request
// matches and what the sidecar would answer (check), development tokens
// (token), and which selected pods run behind the sidecar (status).
// Installed as kubectl-jwtgate on PATH it is also `kubectl jwtgate`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
)

const usage = `jwtgate explains and inspects jwtgate routes (also usable as kubectl jwtgate).

Usage:
  jwtgate check  (--route NAMESPACE/NAME | --config FILE) [--token TOKEN] [--jwks FILE] METHOD PATH
  jwtgate token  --issuer URL [--sub SUB] [--scope SCOPE]... [--claim NAME=VALUE]... [--ttl 1h]
  jwtgate status [-n NAMESPACE | -A]

Run jwtgate COMMAND -h for the flags of a command.
`

// command runs one subcommand with its arguments, writing its answer to out.
type command func(ctx context.Context, args []string, out io.Writer) error

var commands = map[string]command{
	"check":  check,
	"token":  token,
	"status": status,
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "jwtgate:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(out, usage)
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		return fmt.Errorf("unknown command %q; one of check, token, status (jwtgate --help)", args[0])
	}
	return cmd(ctx, args[1:], out)
}

// parse parses fs's flags wherever they are among the arguments (flag stops
// at the first positional one) and returns the positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
