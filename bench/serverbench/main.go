// Command serverbench compares the sealed server with nginx and Caddy
// serving the same files with the same certificate over HTTPS on loopback,
// as /work/shared/BENCHMARKING.md describes: servers run one at a time,
// rounds are interleaved (A B C, C B A, ...), and the report gives medians
// of per-round ratios to nginx plus CPU time per request and peak RSS.
//
// It is driven by bench/serve.sh, which installs the tools and builds the
// artifact; run that instead of this directly.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var (
	workDir  = flag.String("work", "", "work directory prepared by serve.sh (site/, certs/, mir-seal)")
	rounds   = flag.Int("rounds", 5, "interleaved rounds")
	duration = flag.Duration("d", 10*time.Second, "duration of each wrk and handshake run")
	conns    = flag.Int("c", 50, "connections")
	only     = flag.String("servers", "seal,nginx,caddy", "servers to compare")
	port     = flag.Int("port", 9443, "loopback port the server under test listens on")
	hsConns  = flag.Int("hc", 8, "concurrent clients in the handshake runs (each is CPU-bound: a few saturate 2 cores)")
	loadsRE  = flag.String("loads", ".", "run only the loads whose name matches this regexp (h1_1k, h1_1m, h2_1k, h2_1m, handshake, handshake_x25519)")
)

type server struct {
	name  string
	start func(dir string) (*exec.Cmd, error)
}

type sample map[string]float64 // metric → value

func main() {
	log.SetFlags(0)
	log.SetPrefix("serverbench: ")
	flag.Parse()
	if *workDir == "" {
		log.Fatal("--work is required")
	}
	all := map[string]server{
		"seal":  {"seal", startSeal},
		"nginx": {"nginx", startNginx},
		"caddy": {"caddy", startCaddy},
	}
	var servers []server
	for _, n := range strings.Split(*only, ",") {
		s, ok := all[n]
		if !ok {
			log.Fatalf("unknown server %q", n)
		}
		servers = append(servers, s)
	}
	results := map[string][]sample{}
	for r := 0; r < *rounds; r++ {
		order := append([]server(nil), servers...)
		if r%2 == 1 {
			for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
				order[i], order[j] = order[j], order[i]
			}
		}
		for _, s := range order {
			log.Printf("round %d/%d: %s", r+1, *rounds, s.name)
			smp, err := measure(s)
			if err != nil {
				log.Fatalf("%s: %v", s.name, err)
			}
			results[s.name] = append(results[s.name], smp)
		}
	}
	report(servers, results)
}

var url1k, url1m string

func measure(s server) (sample, error) {
	smp := sample{}
	base := fmt.Sprintf("https://127.0.0.1:%d", *port)
	url1k, url1m = base+"/1k.bin", base+"/1m.bin"

	// Startup: exec to first successful HTTPS response.
	t0 := time.Now()
	cmd, err := s.start(*workDir)
	if err != nil {
		return nil, err
	}
	defer stop(cmd)
	if err := waitReady(url1k, 20*time.Second); err != nil {
		return nil, err
	}
	smp["startup_ms"] = float64(time.Since(t0).Microseconds()) / 1000

	pids := processTree(cmd.Process.Pid)
	for _, p := range pids {
		os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p), []byte("5"), 0)
	}
	type load struct {
		metric string
		run    func() (reqs, rps float64, failed float64, err error)
	}
	loads := []load{
		{"h1_1k", func() (float64, float64, float64, error) { return wrk(url1k, *conns, *duration) }},
		{"h1_1m", func() (float64, float64, float64, error) { return wrk(url1m, *conns, *duration) }},
		{"h2_1k", func() (float64, float64, float64, error) { return h2load(url1k, 50000, *conns, 10) }},
		{"h2_1m", func() (float64, float64, float64, error) { return h2load(url1m, 2000, *conns, 1) }},
		{"handshake", func() (float64, float64, float64, error) { return handshakes(*hsConns, *duration, nil) }},
		{"handshake_x25519", func() (float64, float64, float64, error) {
			return handshakes(*hsConns, *duration, []tls.CurveID{tls.X25519})
		}},
	}
	pick := regexp.MustCompile(*loadsRE)
	for _, l := range loads {
		if !pick.MatchString(l.metric) {
			continue
		}
		cpu0 := cpuTicks(processTree(cmd.Process.Pid))
		reqs, rps, failed, err := l.run()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", l.metric, err)
		}
		cpu1 := cpuTicks(processTree(cmd.Process.Pid))
		smp[l.metric] = rps
		smp[l.metric+"_failed"] = failed
		if failed > 0 {
			log.Printf("%s: %s: %.0f failed requests", s.name, l.metric, failed)
		}
		if reqs > 0 {
			smp[l.metric+"_cpu_us"] = float64(cpu1-cpu0) * 1e6 / clockTicks / reqs
		}
	}
	var hwm float64
	for _, p := range processTree(cmd.Process.Pid) {
		hwm += float64(statusKB(p, "VmHWM"))
	}
	smp["peak_rss_mb"] = hwm / 1024
	return smp, nil
}

const clockTicks = 100 // USER_HZ on Linux

func stop(cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	time.Sleep(300 * time.Millisecond) // let the port go
}

func spawn(env []string, name string, args ...string) (*exec.Cmd, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd, cmd.Start()
}

func startSeal(dir string) (*exec.Cmd, error) {
	return spawn(nil, filepath.Join(dir, "mir-seal"), "--https", fmt.Sprintf("127.0.0.1:%d", *port), "--http", fmt.Sprintf("127.0.0.1:%d", *port+1))
}

func startNginx(dir string) (*exec.Cmd, error) {
	conf := fmt.Sprintf(`daemon off;
master_process on;
worker_processes auto;
pid %[1]s/nginx.pid;
error_log stderr error;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000;
  sendfile on;
  types { application/octet-stream bin; text/html html; text/css css; image/png png; }
  client_body_temp_path %[1]s/tmp; proxy_temp_path %[1]s/tmp; fastcgi_temp_path %[1]s/tmp; uwsgi_temp_path %[1]s/tmp; scgi_temp_path %[1]s/tmp;
  ssl_session_cache shared:SSL:10m;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256;
  ssl_prefer_server_ciphers on;
  server {
    listen 127.0.0.1:%[2]d ssl http2;
    ssl_certificate %[1]s/certs/server.pem;
    ssl_certificate_key %[1]s/certs/server.key;
    root %[1]s/site;
  }
}
`, dir, *port)
	os.MkdirAll(filepath.Join(dir, "tmp"), 0o755)
	p := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(p, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	return spawn(nil, "nginx", "-c", p, "-e", "stderr")
}

func startCaddy(dir string) (*exec.Cmd, error) {
	conf := fmt.Sprintf(`{
	admin off
	auto_https off
	servers {
		protocols h1 h2
	}
}
https://127.0.0.1:%[2]d {
	tls %[1]s/certs/server.pem %[1]s/certs/server.key
	root * %[1]s/site
	file_server
}
`, dir, *port)
	p := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(p, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	return spawn([]string{"HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir}, "caddy", "run", "--config", p, "--adapter", "caddyfile")
}

func tlsConfig() *tls.Config {
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(filepath.Join(*workDir, "certs", "root.pem"))
	if err != nil {
		log.Fatal(err)
	}
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{RootCAs: pool, ServerName: "localhost"}
}

func waitReady(url string, limit time.Duration) error {
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig()}, Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %s", url, limit)
}

var (
	reWrkRPS    = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	reWrkTotal  = regexp.MustCompile(`(\d+) requests in`)
	reWrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	reWrkSock   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	reH2RPS     = regexp.MustCompile(`finished in [\d.]+\w+, ([\d.]+) req/s`)
	reH2Reqs    = regexp.MustCompile(`requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored`)
)

func wrk(url string, c int, d time.Duration) (reqs, rps, failed float64, err error) {
	out, err := exec.Command("wrk", "-t2", fmt.Sprintf("-c%d", c), fmt.Sprintf("-d%ds", int(d.Seconds())), url).CombinedOutput()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	rps = atof(reWrkRPS, out, 1)
	reqs = atof(reWrkTotal, out, 1)
	failed = atof(reWrkNon2xx, out, 1)
	if m := reWrkSock.FindSubmatch(out); m != nil {
		for _, g := range m[1:] {
			v, _ := strconv.ParseFloat(string(g), 64)
			failed += v
		}
	}
	return reqs, rps, failed, nil
}

func h2load(url string, n, c, m int) (reqs, rps, failed float64, err error) {
	out, err := exec.Command("h2load", "-n", strconv.Itoa(n), "-c", strconv.Itoa(c), "-m", strconv.Itoa(m), url).CombinedOutput()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("h2load: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("Application protocol: h2")) {
		return 0, 0, 0, fmt.Errorf("h2load did not negotiate h2:\n%s", out)
	}
	rps = atof(reH2RPS, out, 1)
	if mm := reH2Reqs.FindSubmatch(out); mm != nil {
		total, _ := strconv.ParseFloat(string(mm[1]), 64)
		ok, _ := strconv.ParseFloat(string(mm[2]), 64)
		reqs = ok
		failed = total - ok
	}
	return reqs, rps, failed, nil
}

// handshakes runs full TLS handshakes (no session cache, a new connection
// each time) from c goroutines for d and returns the rate. OpenSSL 3.0
// (nginx, here) has no post-quantum key exchange, so the X25519-only run is
// the like-for-like one.
func handshakes(c int, d time.Duration, curves []tls.CurveID) (reqs, rps, failed float64, err error) {
	cfg := tlsConfig()
	cfg.CurvePreferences = curves // nil: Go's defaults, which include X25519MLKEM768
	cfg.ClientSessionCache = nil
	cfg.SessionTicketsDisabled = true
	addr := fmt.Sprintf("127.0.0.1:%d", *port)
	var ok, bad atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(d)
	for i := 0; i < c; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if err := handshake(addr, cfg); err != nil {
					if bad.Add(1) <= 3 {
						log.Printf("handshake failed: %v", err)
					}
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	return float64(ok.Load()), float64(ok.Load()) / el, float64(bad.Load()), nil
}

// handshake makes one TCP connection and one full TLS handshake on it.
func handshake(addr string, cfg *tls.Config) error {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	// RST instead of FIN: the dialers would otherwise fill the loopback
	// ephemeral port range with TIME_WAIT sockets.
	defer func() {
		nc.(*net.TCPConn).SetLinger(0)
		nc.Close()
	}()
	conn := tls.Client(nc, cfg)
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	return conn.Handshake()
}

func atof(re *regexp.Regexp, out []byte, g int) float64 {
	m := re.FindSubmatch(out)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[g]), 64)
	return v
}

// processTree returns pid and its descendants (nginx workers).
func processTree(pid int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		f := statFields(st)
		if len(f) > 1 {
			pp, _ := strconv.Atoi(f[1])
			children[pp] = append(children[pp], p)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// statFields returns /proc/PID/stat fields after the command name:
// [0]=state, [1]=ppid, ..., [11]=utime, [12]=stime.
func statFields(st []byte) []string {
	i := bytes.LastIndexByte(st, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(st[i+1:]))
}

func cpuTicks(pids []int) int64 {
	var sum int64
	for _, p := range pids {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		f := statFields(st)
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			sum += u + s
		}
	}
	return sum
}

func statusKB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				v, _ := strconv.ParseInt(f[1], 10, 64)
				return v
			}
		}
	}
	return 0
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func report(servers []server, res map[string][]sample) {
	metrics := []struct{ key, label string }{
		{"h1_1k", "HTTP/1.1 keep-alive, 1 KiB (wrk), req/s"},
		{"h1_1m", "HTTP/1.1 keep-alive, 1 MiB (wrk), req/s"},
		{"h2_1k", "HTTP/2, 1 KiB (h2load -m 10), req/s"},
		{"h2_1m", "HTTP/2, 1 MiB (h2load -m 1), req/s"},
		{"handshake", "full TLS handshakes/s, client offers Go defaults (X25519MLKEM768 first)"},
		{"handshake_x25519", "full TLS handshakes/s, client offers X25519 only"},
	}
	fmt.Printf("\n%d interleaved rounds, %d connections (%d for handshakes), %s per run; medians; ratio = median of per-round ratios to nginx\n\n", *rounds, *conns, *hsConns, *duration)
	fmt.Printf("| metric | %s |\n|---|%s\n", joinNames(servers), strings.Repeat("---|", len(servers)))
	for _, m := range metrics {
		if !regexp.MustCompile(*loadsRE).MatchString(m.key) {
			continue
		}
		row := []string{m.label}
		for _, s := range servers {
			row = append(row, cell(res, s.name, m.key))
		}
		fmt.Printf("| %s |\n", strings.Join(row, " | "))
		row = []string{"  CPU µs/request (" + m.key + ")"}
		for _, s := range servers {
			row = append(row, fmt.Sprintf("%.0f", median(values(res[s.name], m.key+"_cpu_us"))))
		}
		fmt.Printf("| %s |\n", strings.Join(row, " | "))
	}
	for _, m := range []struct{ key, label string }{{"peak_rss_mb", "peak RSS, MB (VmHWM, summed over processes)"}, {"startup_ms", "exec → first HTTPS response, ms"}} {
		row := []string{m.label}
		for _, s := range servers {
			row = append(row, cell(res, s.name, m.key))
		}
		fmt.Printf("| %s |\n", strings.Join(row, " | "))
	}
	row := []string{"failed requests (all runs)"}
	for _, s := range servers {
		var f float64
		for _, smp := range res[s.name] {
			for k, v := range smp {
				if strings.HasSuffix(k, "_failed") {
					f += v
				}
			}
		}
		row = append(row, fmt.Sprintf("%.0f", f))
	}
	fmt.Printf("| %s |\n", strings.Join(row, " | "))
}

func joinNames(servers []server) string {
	var n []string
	for _, s := range servers {
		n = append(n, s.name)
	}
	return strings.Join(n, " | ")
}

func values(smps []sample, key string) []float64 {
	var v []float64
	for _, s := range smps {
		v = append(v, s[key])
	}
	return v
}

func cell(res map[string][]sample, name, key string) string {
	med := median(values(res[name], key))
	c := fmt.Sprintf("%.4g", med)
	if ngx, ok := res["nginx"]; ok && name != "nginx" && len(ngx) == len(res[name]) {
		var ratios []float64
		for i := range ngx {
			if ngx[i][key] > 0 {
				ratios = append(ratios, res[name][i][key]/ngx[i][key])
			}
		}
		if len(ratios) > 0 {
			c += fmt.Sprintf(" (%.2f×)", median(ratios))
		}
	}
	return c
}
