// imagepack packs static binaries into OCI image tarballs (make images); a module of
// its own so go-containerregistry's dependency tree stays out of jwtgate's go.mod.
module github.com/jwtgate/jwtgate/hack/imagepack

go 1.26

require github.com/google/go-containerregistry v0.22.1

require (
	github.com/klauspost/compress v1.19.2 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
	golang.org/x/sync v0.22.0 // indirect
)
