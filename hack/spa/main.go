// Command spa serves the demo's single-page app (package page).
package main

import (
	"flag"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/jwtgate/jwtgate/internal/spapage"
)

func main() {
	listen := flag.String("listen", "localhost:3000", "address to serve the page on; its origin must be in the ProtectedRoute's cors.allowOrigins")
	api := flag.String("api", "http://127.0.0.1:15080", "the API's URL (the jwtgate sidecar)")
	iss := flag.String("issuer", "http://127.0.0.1:5556/", "the dev issuer that mints the page's token")
	sub := flag.String("sub", "alice", "subject of the minted token")
	scope := flag.String("scope", "read:colors", "scopes of the minted token")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	h, err := spapage.Handler(spapage.Config{APIURL: *api, IssuerURL: *iss, Subject: *sub, Scope: *scope})
	if err != nil {
		log.Error("bad configuration", "err", err)
		os.Exit(2)
	}
	log.Info("single-page app serving", "url", "http://"+*listen+"/", "api", *api)
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		log.Error("serve failed", "err", err)
		os.Exit(1)
	}
}
