package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/certseal/certseal/internal/cli"
)

const (
	modulePath     = "github.com/certseal/certseal"
	runtimePackage = modulePath + "/cmd/seal-runtime"
	installHint    = "install seal and seal-runtime together with 'CGO_ENABLED=0 go install ./cmd/...', or pass --runtime FILE"
)

// findRuntime returns the seal-runtime executable to copy: --runtime, else
// seal-runtime next to this executable (where 'go install ./cmd/...' puts
// it), else, when run from this module's source with a Go toolchain at
// hand ('go run ./cmd/seal'), one built into the user cache directory.
func findRuntime(flag string) (string, error) {
	if flag != "" {
		st, err := os.Stat(flag)
		if err != nil {
			return "", fmt.Errorf("runtime %s does not exist", flag)
		}
		if st.IsDir() {
			return "", fmt.Errorf("runtime %s is a directory", flag)
		}
		return flag, nil
	}
	name := "seal-runtime"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err := filepath.EvalSymlinks(exe); err == nil {
			p := filepath.Join(filepath.Dir(exe), name)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				return p, nil
			}
		}
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", errors.New("cannot find seal-runtime next to seal; " + installHint)
	}
	root, ok := moduleRoot()
	if !ok {
		return "", errors.New("cannot find seal-runtime next to seal; " + installHint)
	}
	return buildRuntime(goTool, root)
}

// moduleRoot returns the directory of this module's go.mod when the
// working directory is inside its source tree.
func moduleRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if isThisModule(filepath.Join(dir, "go.mod")) {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func isThisModule(goMod string) bool {
	data, err := os.ReadFile(goMod)
	if err != nil {
		return false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`) == modulePath
		}
	}
	return false
}

// buildRuntime builds the runtime from the source in root. The output path
// is fixed per checkout, so go's build cache makes later calls a quick
// up-to-date check rather than a rebuild, while edits to the server
// are still picked up.
func buildRuntime(goTool, root string) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	sum := sha256.Sum256([]byte(root))
	out := filepath.Join(cache, "certseal", "seal-runtime-"+hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
		return "", fmt.Errorf("cannot build seal-runtime: %v", err)
	}
	cli.Infof("seal", "no seal-runtime installed next to seal; building it from %s into %s", root, out)
	// -s -w drops the symbol table and DWARF (panics still name functions):
	// a third smaller, which matters inside a VM or container image.
	cmd := exec.Command(goTool, "build", "-trimpath", "-ldflags=-s -w", "-o", out, runtimePackage)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("building seal-runtime failed:\n%s", msg)
	}
	return out, nil
}
