// Command coredns is CoreDNS with only the plugins the local cluster's DNS needs:
// it answers for cluster.local from the Kubernetes API and has no upstream, so no
// pod query ever leaves the machine. hack/cluster/build.sh builds it in a module of
// its own (it is not part of the jwtgate module).
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() {
	coremain.Run()
}
