package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Defaults of the OCI target. The container runs as a non-root user, which
// cannot bind ports below 1024 without capabilities, so the server listens
// on 8443 and 8080 inside the container; map them to 443 and 80 outside
// (docker run -p 443:8443 -p 80:8080, or a Kubernetes Service).
const (
	OCIEntrypoint = "/seal"
	OCIUser       = "65532:65532"
	OCIHTTPSAddr  = ":8443"
	OCIHTTPAddr   = ":8080"
)

// OCIOptions describes the image around the sealed executable.
type OCIOptions struct {
	// Created is the image's creation time, fixed so the image is
	// reproducible (the Unix epoch when zero).
	Created time.Time
	// Labels are added to the image configuration, e.g.
	// org.opencontainers.image.title.
	Labels map[string]string
	// ExposedPorts default to 8443/tcp and 8080/tcp.
	ExposedPorts []string
	// Env is the container's environment ("KEY=value").
	Env []string
}

// BuildOCI returns a FROM-scratch image holding only the sealed executable
// bin (runtime plus payload, statically linked) at /seal as its
// entrypoint, run as user 65532. The same inputs give the same digest. It
// returns an error only when the image cannot be assembled.
func BuildOCI(bin []byte, opts OCIOptions) (v1.Image, error) {
	created := opts.Created
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	created = created.UTC()
	layerBytes, err := binaryLayer(bin, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("image: building the layer: %v", err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: created},
			CreatedBy: "certseal seal -t oci",
			Comment:   "sealed server: runtime plus site, certificate and key",
		},
	})
	if err != nil {
		return nil, fmt.Errorf("image: adding the layer: %v", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture = "amd64"
	cfg.OS = "linux"
	cfg.Created = v1.Time{Time: created}
	ports := opts.ExposedPorts
	if ports == nil {
		ports = []string{"8443/tcp", "8080/tcp"}
	}
	cfg.Config.ExposedPorts = map[string]struct{}{}
	for _, p := range ports {
		cfg.Config.ExposedPorts[p] = struct{}{}
	}
	cfg.Config.Entrypoint = []string{OCIEntrypoint}
	cfg.Config.Cmd = nil
	cfg.Config.User = OCIUser
	cfg.Config.WorkingDir = "/"
	cfg.Config.Env = opts.Env
	cfg.Config.Labels = opts.Labels
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("image: writing the config: %v", err)
	}
	return img, nil
}

// binaryLayer returns a gzip-compressed tar holding bin as /seal, owned by
// root, mode 0755, with every time set to created.
func binaryLayer(bin []byte, created time.Time) ([]byte, error) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     OCIEntrypoint[1:],
		Mode:     0o755,
		Size:     int64(len(bin)),
		ModTime:  created,
		Format:   tar.FormatUSTAR, // no PAX access/change times
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	var zb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&zb, gzip.BestCompression)
	if _, err := zw.Write(tb.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return zb.Bytes(), nil
}

// DefaultOCIRef is the tag a tarball gets when no --push reference names it.
const DefaultOCIRef = "certseal/site:latest"

// WriteOCITarball writes img as a `docker load`-able tarball tagged ref
// (DefaultOCIRef when empty) to w. It returns an error for an invalid
// reference or a write failure.
func WriteOCITarball(w io.Writer, img v1.Image, ref string) error {
	if ref == "" {
		ref = DefaultOCIRef
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("image: invalid image reference %q: %v", ref, err)
	}
	return tarball.Write(tag, img, w)
}

// WriteOCILayout writes img as an OCI image layout in dir, which must not
// exist or be empty, annotated with ref as its name when ref is not empty.
func WriteOCILayout(dir string, img v1.Image, ref string) error {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("image: %s is not empty", dir)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("image: writing the OCI layout: %v", err)
	}
	var opts []layout.Option
	if ref != "" {
		opts = append(opts, layout.WithAnnotations(map[string]string{
			"org.opencontainers.image.ref.name": ref,
		}))
	}
	if err := p.AppendImage(img, opts...); err != nil {
		return fmt.Errorf("image: writing the OCI layout: %v", err)
	}
	return nil
}

// PushOCI pushes img to ref (REGISTRY/REPO:TAG) with the credentials of
// the usual docker configuration (authn.DefaultKeychain). It returns the
// pushed manifest's digest.
func PushOCI(ctx context.Context, img v1.Image, ref string, extra ...remote.Option) (v1.Hash, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("image: invalid image reference %q: %v", ref, err)
	}
	opts := append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, extra...)
	if err := remote.Write(r, img, opts...); err != nil {
		return v1.Hash{}, fmt.Errorf("image: pushing %s: %v", ref, err)
	}
	return img.Digest()
}
