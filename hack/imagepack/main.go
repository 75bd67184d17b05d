// Command imagepack packs one static binary into a single-layer OCI image tarball
// without a container engine, with what a distroless "static:nonroot" base gives:
// CA certificates, /etc/passwd and /etc/group with a non-root user 65532, /tmp and a
// home directory, and a non-root USER. The tarball is an OCI image layout whose index
// names the image (io.containerd.image.name), so `ctr images import`, `docker load`
// and `podman load` all accept it. It is a module of its own so go-containerregistry's
// dependencies stay out of jwtgate's go.mod.
//
//	imagepack -binary bin/manager -ref ghcr.io/jwtgate/jwtgate:v1 -out bin/images/manager.tar
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// epoch is every file's and the image's timestamp, so equal inputs give equal digests.
var epoch = time.Unix(0, 0).UTC()

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	binary := flag.String("binary", "", "static binary to pack (required)")
	ref := flag.String("ref", "", "image name with tag, e.g. ghcr.io/jwtgate/jwtgate:v1 (required)")
	out := flag.String("out", "", "tarball to write (required)")
	entry := flag.String("entrypoint", "", "path of the binary in the image (default /<binary name>)")
	user := flag.String("user", "65532:65532", "USER of the image (uid:gid)")
	caBundle := flag.String("ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "CA certificates to install at /etc/ssl/certs/ca-certificates.crt")
	version := flag.String("version", "", "version label (org.opencontainers.image.version); default the tag")
	var ports, labels listFlag
	flag.Var(&ports, "port", "exposed port, e.g. 8080/tcp (repeatable)")
	flag.Var(&labels, "label", "extra label key=value (repeatable)")
	flag.Parse()
	if *binary == "" || *ref == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if *entry == "" {
		*entry = "/" + filepath.Base(*binary)
	}
	if err := pack(*binary, *ref, *out, *entry, *user, *caBundle, *version, ports, labels); err != nil {
		log.Fatalf("imagepack: %v", err)
	}
}

func pack(binary, ref, out, entry, user, caBundle, version string, ports, labels []string) error {
	tag, err := name.NewTag(ref, name.WeakValidation)
	if err != nil {
		return fmt.Errorf("image name %q: %w", ref, err)
	}
	if version == "" {
		version = tag.TagStr()
	}
	layerTar, err := rootfs(binary, entry, caBundle)
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return err
	}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer: layer, MediaType: types.OCILayer,
		History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "imagepack " + filepath.Base(binary)},
	})
	if err != nil {
		return err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Created = v1.Time{Time: epoch}
	cfg.Config.Entrypoint = []string{entry}
	cfg.Config.User = user
	cfg.Config.WorkingDir = "/"
	cfg.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}
	cfg.Config.Labels = map[string]string{
		"org.opencontainers.image.version": version,
		"org.opencontainers.image.title":   strings.TrimPrefix(entry, "/"),
	}
	for _, l := range labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return fmt.Errorf("label %q is not key=value", l)
		}
		cfg.Config.Labels[k] = v
	}
	if len(ports) > 0 {
		cfg.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range ports {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			cfg.Config.ExposedPorts[p] = struct{}{}
		}
	}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}
	return writeLayoutTar(out, img, tag)
}

// rootfs is the image's only layer: the distroless-like files and the binary.
func rootfs(binary, entry, caBundle string) ([]byte, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(caBundle)
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := []struct {
		name     string
		mode     int64
		uid, gid int
	}{
		{"etc", 0o755, 0, 0}, {"etc/ssl", 0o755, 0, 0}, {"etc/ssl/certs", 0o755, 0, 0},
		{"home", 0o755, 0, 0}, {"home/nonroot", 0o700, 65532, 65532}, {"root", 0o700, 0, 0},
		{"tmp", 0o1777, 0, 0}, {"var", 0o755, 0, 0},
	}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name + "/", Mode: d.mode, Uid: d.uid, Gid: d.gid, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
	}
	// Parent directories of the entrypoint, when it is not at the root.
	var parents []string
	for p := path.Dir(strings.TrimPrefix(entry, "/")); p != "." && p != "etc" && p != "var"; p = path.Dir(p) {
		parents = append(parents, p)
	}
	sort.Strings(parents)
	for _, p := range parents {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: p + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
	}
	files := []struct {
		name string
		mode int64
		data []byte
	}{
		{"etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{"etc/group", 0o644, []byte("root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n")},
		{"etc/nsswitch.conf", 0o644, []byte("hosts: files dns\n")},
		{"etc/ssl/certs/ca-certificates.crt", 0o644, ca},
		{strings.TrimPrefix(entry, "/"), 0o755, bin},
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), tw.Close()
}

// writeLayoutTar writes img as an OCI image layout, tarred, whose index names it for
// containerd (io.containerd.image.name) and for OCI tools (org.opencontainers.image.ref.name).
func writeLayoutTar(out string, img v1.Image, tag name.Tag) error {
	dir, err := os.MkdirTemp("", "imagepack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"io.containerd.image.name":          tag.Name(),
		"org.opencontainers.image.ref.name": tag.TagStr(),
	})); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: rel + "/", Mode: 0o755, ModTime: epoch})
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: rel, Mode: 0o644, Size: int64(len(data)), ModTime: epoch}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, out)
}
