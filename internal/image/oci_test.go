package image

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certseal/certseal/internal/testutil"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

var testBinary = []byte("\x7fELF sealed server bytes for the test")

func testOCI(t *testing.T) []byte {
	img, err := BuildOCI(testBinary, OCIOptions{Created: time.Unix(1700000000, 0), Labels: map[string]string{"org.opencontainers.image.title": "t"}})
	must(t, err)
	var buf bytes.Buffer
	must(t, WriteOCITarball(&buf, img, "example.test/site:v1"))
	return buf.Bytes()
}

func TestOCIReproducible(t *testing.T) {
	if !bytes.Equal(testOCI(t), testOCI(t)) {
		t.Fatal("two builds of the same image differ")
	}
}

func TestOCITarballWithSkopeo(t *testing.T) {
	skopeo := testutil.RequireTool(t, "skopeo")
	p := filepath.Join(t.TempDir(), "site.tar")
	os.WriteFile(p, testOCI(t), 0o600)
	out, err := exec.Command(skopeo, "inspect", "--config", "docker-archive:"+p).Output()
	if err != nil {
		t.Fatalf("skopeo inspect: %v", err)
	}
	var cfg struct {
		Created string `json:"created"`
		Config  struct {
			User         string
			Entrypoint   []string
			ExposedPorts map[string]struct{}
			Labels       map[string]string
		} `json:"config"`
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	must(t, json.Unmarshal(out, &cfg))
	if cfg.Config.User != "65532:65532" || strings.Join(cfg.Config.Entrypoint, " ") != "/seal" ||
		len(cfg.Config.ExposedPorts) != 2 || cfg.Config.Labels["org.opencontainers.image.title"] != "t" ||
		len(cfg.RootFS.DiffIDs) != 1 || !strings.HasPrefix(cfg.Created, "2023-11-14T22:13:20") {
		t.Errorf("config as skopeo sees it: %s", out)
	}
}

func TestOCILayoutWithUmoci(t *testing.T) {
	umoci := testutil.RequireTool(t, "umoci")
	img, err := BuildOCI(testBinary, OCIOptions{})
	must(t, err)
	dir := filepath.Join(t.TempDir(), "layout")
	must(t, WriteOCILayout(dir, img, "v1"))
	if err := WriteOCILayout(dir, img, "v1"); err == nil {
		t.Error("WriteOCILayout wrote into a non-empty directory")
	}
	bundle := filepath.Join(t.TempDir(), "bundle")
	if out, err := exec.Command(umoci, "unpack", "--rootless", "--image", dir+":v1", bundle).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(bundle, "rootfs", "seal"))
	if err != nil || !bytes.Equal(got, testBinary) {
		t.Fatalf("rootfs/seal = %q, %v", got, err)
	}
	st, _ := os.Stat(filepath.Join(bundle, "rootfs", "seal"))
	if st.Mode().Perm() != 0o755 {
		t.Errorf("rootfs/seal mode %v", st.Mode())
	}
	ents, _ := os.ReadDir(filepath.Join(bundle, "rootfs"))
	if len(ents) != 1 {
		t.Errorf("rootfs holds %d entries, want only seal", len(ents))
	}
	var spec struct {
		Process struct {
			User struct{ UID, GID int }
			Args []string
		}
	}
	b, _ := os.ReadFile(filepath.Join(bundle, "config.json"))
	must(t, json.Unmarshal(b, &spec))
	if spec.Process.User.UID != 65532 || spec.Process.User.GID != 65532 || strings.Join(spec.Process.Args, " ") != "/seal" {
		t.Errorf("runtime spec process: %+v", spec.Process)
	}
}

func TestOCIPushPull(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := BuildOCI(testBinary, OCIOptions{})
	must(t, err)
	ref := host + "/certseal/site:v1"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	digest, err := PushOCI(ctx, img, ref)
	must(t, err)
	r, _ := name.ParseReference(ref)
	pulled, err := remote.Image(r, remote.WithContext(ctx))
	must(t, err)
	pd, _ := pulled.Digest()
	if pd != digest {
		t.Errorf("pulled digest %s, pushed %s", pd, digest)
	}
	wantM, _ := img.RawManifest()
	gotM, _ := pulled.RawManifest()
	wantC, _ := img.RawConfigFile()
	gotC, _ := pulled.RawConfigFile()
	if !bytes.Equal(wantM, gotM) || !bytes.Equal(wantC, gotC) {
		t.Error("pulled manifest or config differ")
	}
	ls, _ := pulled.Layers()
	wl, _ := img.Layers()
	rc, _ := ls[0].Compressed()
	got, _ := io.ReadAll(rc)
	rc2, _ := wl[0].Compressed()
	want, _ := io.ReadAll(rc2)
	if len(ls) != 1 || !bytes.Equal(got, want) {
		t.Error("pulled layer differs")
	}
	if _, err := PushOCI(ctx, img, "bad ref!"); err == nil {
		t.Error("PushOCI accepted an invalid reference")
	}
}
