package cfsslreq

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCfsslStaysInTheAdapter checks that neither the library nor the
// sealed runtime links cfssl: it belongs to this package and the commands
// that import it.
func TestCfsslStaysInTheAdapter(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	pkgs := []string{"./pkg/x509util"}
	if _, err := os.Stat(filepath.Join(root, "cmd", "seal-runtime")); err == nil {
		pkgs = append(pkgs, "./cmd/seal-runtime")
	} else {
		t.Log("cmd/seal-runtime does not exist yet; checking pkg/x509util only")
	}
	for _, p := range pkgs {
		cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", p)
		cmd.Dir = root
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", p, err, stderr.Bytes())
		}
		n := 0
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			n++
			if strings.Contains(sc.Text(), "github.com/cloudflare/cfssl") {
				t.Errorf("%s depends on %s", p, sc.Text())
			}
		}
		if n < 5 {
			t.Errorf("go list -deps %s listed only %d packages", p, n)
		}
	}
	// The check itself works: this package does depend on cfssl.
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil || !bytes.Contains(out, []byte("github.com/cloudflare/cfssl/config")) {
		t.Errorf("go list -deps . does not show cfssl (%v)", err)
	}
}
