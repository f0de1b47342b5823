package hardening

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/certseal/certseal/internal/testutil"
)

// soakDuration is how long each soak phase runs; CERTSEAL_SOAK_SECONDS
// lengthens it for a manual run (CI keeps the default).
func soakDuration(t *testing.T) time.Duration {
	d := 20 * time.Second
	if s := os.Getenv("CERTSEAL_SOAK_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("CERTSEAL_SOAK_SECONDS=%q is not a positive number", s)
		}
		d = time.Duration(n) * time.Second
	}
	return d
}

// soakConnections is the number of concurrent client connections.
const soakConnections = 500

// h2loadResult is what h2load prints about requests.
type h2loadResult struct {
	total, succeeded, failed, errored, timeout int
	status2xx, status3xx, status4xx, status5xx int
}

var (
	reRequests = regexp.MustCompile(`requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`)
	reStatus   = regexp.MustCompile(`status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx`)
)

func parseH2load(out []byte) (h2loadResult, error) {
	var r h2loadResult
	m := reRequests.FindSubmatch(out)
	s := reStatus.FindSubmatch(out)
	if m == nil || s == nil {
		return r, fmt.Errorf("no request summary in h2load output")
	}
	n := func(b []byte) int { v, _ := strconv.Atoi(string(b)); return v }
	r.total, r.succeeded, r.failed, r.errored, r.timeout = n(m[1]), n(m[4]), n(m[5]), n(m[6]), n(m[7])
	r.status2xx, r.status3xx, r.status4xx, r.status5xx = n(s[1]), n(s[2]), n(s[3]), n(s[4])
	return r, nil
}

// TestSoak drives the sealed server with soakConnections concurrent
// connections, first over HTTP/2 then over HTTP/1.1, and checks that no
// request fails and that the resident set stays flat: the mean of the last
// third of the samples is compared with the mean of the first third.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak takes a minute")
	}
	h2load := testutil.RequireTool(t, "h2load")
	d := soakDuration(t)
	p := start(t)

	var (
		mu      sync.Mutex
		samples []int
	)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if kb, err := p.rssKiB(); err == nil {
					mu.Lock()
					samples = append(samples, kb)
					mu.Unlock()
				}
			}
		}
	}()
	startRSS, _ := p.rssKiB()

	base := "https://127.0.0.1:" + portOf(p.https)
	urls := []string{base + "/", base + "/style.css", base + "/docs/"}
	for _, proto := range []string{"h2", "http/1.1"} {
		args := []string{
			"-c", strconv.Itoa(soakConnections), "-m", "1", "-t", "1",
			"-D", strconv.Itoa(int(d.Seconds())), "--warm-up-time", "2",
			"-H", "accept-encoding: gzip, br",
			"--npn-list", proto,
		}
		ctx, cancel := context.WithTimeout(context.Background(), d+2*time.Minute)
		out, err := exec.CommandContext(ctx, h2load, append(args, urls...)...).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("h2load %s: %v\n%s", proto, err, tail(out, 4000))
		}
		r, err := parseH2load(out)
		if err != nil {
			t.Fatalf("h2load %s: %v\n%s", proto, err, tail(out, 4000))
		}
		t.Logf("%s: %d requests, %d succeeded, %d failed, %d errored, %d timeout; %d 2xx, %d 3xx, %d 4xx, %d 5xx",
			proto, r.total, r.succeeded, r.failed, r.errored, r.timeout, r.status2xx, r.status3xx, r.status4xx, r.status5xx)
		// h2load counts any status but 2xx as failed (its status counts
		// also include the warm-up, its request counts do not).
		if r.failed != 0 || r.errored != 0 || r.timeout != 0 || r.succeeded != r.total || r.status3xx+r.status4xx+r.status5xx != 0 {
			t.Errorf("%s: failed requests\n%s", proto, tail(out, 4000))
		}
		if r.succeeded < 1000 {
			t.Errorf("%s: only %d requests succeeded in %s", proto, r.succeeded, d)
		}
	}
	close(stop)
	<-sampled

	mu.Lock()
	defer mu.Unlock()
	if len(samples) < 9 {
		t.Fatalf("only %d RSS samples", len(samples))
	}
	third := len(samples) / 3
	first, last := mean(samples[:third]), mean(samples[len(samples)-third:])
	peak := 0
	for _, s := range samples {
		peak = max(peak, s)
	}
	t.Logf("RSS: %d KiB at start, first third mean %d KiB, last third mean %d KiB, peak %d KiB (%d samples)",
		startRSS, first, last, peak, len(samples))
	// Generous: the runtime's heap grows in steps and the two phases
	// differ, but a per-request leak over tens of thousands of requests
	// would grow much more than this.
	if float64(last) > 1.5*float64(first) {
		t.Errorf("RSS grew from %d KiB (first third) to %d KiB (last third)", first, last)
	}
	p.alive(t)
}

func mean(xs []int) int {
	sum := 0
	for _, x := range xs {
		sum += x
	}
	return sum / len(xs)
}
