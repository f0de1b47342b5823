// Package testutil holds helpers shared by certseal's tests.
package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// RequireTool returns the path of the external program name. When it is
// missing the test is skipped, unless CERTSEAL_REQUIRE_TOOLS=1 (set by CI,
// which installs every tool), in which case the test fails: a cross-check
// against a real tool must never silently vanish in CI.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CERTSEAL_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s is required (CERTSEAL_REQUIRE_TOOLS=1) but not found in PATH", name)
	}
	t.Skipf("%s not found in PATH; install it to run this test", name)
	return ""
}
