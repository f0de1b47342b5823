package main

import (
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certseal/certseal/internal/testutil"
)

// TestRunDemoTwice runs the README's set-up command (seal --selfsign
// --run, no -o) as a real process, twice in a row from the same
// directory: both must serve, and nothing may be left in the directory.
func TestRunDemoTwice(t *testing.T) {
	goTool := testutil.RequireTool(t, "go")
	bin := filepath.Join(t.TempDir(), "seal")
	build := exec.Command(goTool, "build", "-o", bin, ".")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building seal: %v\n%s", err, b)
	}
	runtime := buildTestRuntime(t)
	site, err := filepath.Abs("../../examples/site")
	if err != nil {
		t.Fatal(err)
	}
	work, cache := t.TempDir(), t.TempDir()
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, // a throw-away certificate
	}
	for round := 1; round <= 2; round++ {
		port := freePort(t)
		cmd := exec.Command(bin, "--data", site, "--selfsign", "localhost", "--run", "--runtime", runtime,
			"--https", "127.0.0.1:"+port, "--http", "127.0.0.1:"+freePort(t))
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cache, "HOME="+cache)
		out := &testutil.SyncBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var body string
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			resp, err := client.Get("https://127.0.0.1:" + port + "/")
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				body = string(b)
				break
			}
		}
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if !strings.Contains(body, "<html") {
			t.Fatalf("run %d: no page served; output:\n%s", round, out.String())
		}
		if !strings.Contains(out.String(), "serving https://127.0.0.1:"+port+"/") {
			t.Errorf("run %d: no URL printed:\n%s", round, out.String())
		}
	}
	if ents, _ := os.ReadDir(work); len(ents) != 0 {
		t.Errorf("the demo left %d file(s) in the working directory, e.g. %s", len(ents), ents[0].Name())
	}
	if _, err := os.Stat(filepath.Join(cache, "certseal", "run", "mir-seal")); err != nil {
		t.Errorf("the demo artifact is not in the cache: %v", err)
	}
}
