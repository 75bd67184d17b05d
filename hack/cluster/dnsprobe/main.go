// Command dnsprobe asks one DNS server for a name's addresses, retrying until it
// answers or the time is up; hack/cluster/up.sh uses it to wait until the cluster's
// DNS answers through its Service address (no dig or nslookup needed).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

func main() {
	server := flag.String("server", "", "DNS server host:port (required)")
	wait := flag.Duration("wait", 60*time.Second, "how long to retry")
	flag.Parse()
	if *server == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: dnsprobe -server host:port name")
		os.Exit(2)
	}
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, *server)
	}}
	deadline := time.Now().Add(*wait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		addrs, err := r.LookupHost(ctx, flag.Arg(0))
		cancel()
		if err == nil {
			fmt.Println(strings.Join(addrs, " "))
			return
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "dnsprobe: %v\n", err)
			os.Exit(1)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
