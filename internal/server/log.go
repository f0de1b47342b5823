package server

import (
	"bufio"
	"io"
	"log"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// accessLog writes one line per request in the Common Log Format with the
// duration in seconds added:
//
//	127.0.0.1 - - [02/Jan/2006:15:04:05 +0000] "GET /a.html HTTP/2.0" 200 1234 0.000081
//
// Lines are buffered and flushed at least once a second and at shutdown, so
// logging costs a formatted append and a short critical section.
type accessLog struct {
	mu  sync.Mutex
	buf *bufio.Writer
	now func() time.Time
}

func newAccessLog(w io.Writer) *accessLog {
	return &accessLog{buf: bufio.NewWriterSize(w, 32<<10), now: time.Now}
}

func (l *accessLog) flush() {
	l.mu.Lock()
	l.buf.Flush()
	l.mu.Unlock()
}

// flushEvery flushes the log every d until stop is closed, then once more.
func (l *accessLog) flushEvery(d time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.flush()
		case <-stop:
			l.flush()
			return
		}
	}
}

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

var recorderPool = sync.Pool{New: func() any { return new(statusRecorder) }}

// wrap returns next with each request logged.
func (l *accessLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := l.now()
		rec := recorderPool.Get().(*statusRecorder)
		*rec = statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		status, n := rec.status, rec.bytes
		if status == 0 {
			status = http.StatusOK
		}
		*rec = statusRecorder{}
		recorderPool.Put(rec)
		l.log(r, status, n, start)
	})
}

func (l *accessLog) log(r *http.Request, status int, n int64, start time.Time) {
	end := l.now()
	bp := linePool.Get().(*[]byte)
	b := (*bp)[:0]
	host := r.RemoteAddr
	for i := len(host) - 1; i >= 0; i-- {
		if host[i] == ':' {
			host = host[:i]
			break
		}
	}
	b = appendQuotable(b, host)
	b = append(b, " - - ["...)
	b = start.UTC().AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, "] \""...)
	b = appendQuotable(b, r.Method)
	b = append(b, ' ')
	b = appendQuotable(b, r.URL.RequestURI())
	b = append(b, ' ')
	b = appendQuotable(b, r.Proto)
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, n, 10)
	b = append(b, ' ')
	b = strconv.AppendFloat(b, end.Sub(start).Seconds(), 'f', 6, 64)
	b = append(b, '\n')
	l.mu.Lock()
	l.buf.Write(b)
	l.mu.Unlock()
	*bp = b
	linePool.Put(bp)
}

// appendQuotable appends s with bytes that could break the line format
// (controls, quotes, backslashes, non-ASCII) written as \xHH.
func appendQuotable(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}

// statusRecorder remembers the status and body size for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(p)
	s.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the server's writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush passes flushes through.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// limitedWriter forwards log lines to a logger at most burst at a time,
// refilled at rate lines per second; dropped lines are counted and
// reported with the next line let through. net/http logs every failed TLS
// handshake, which a scanner can turn into a flood.
type limitedWriter struct {
	mu      sync.Mutex
	out     *log.Logger
	now     func() time.Time
	rate    float64
	burst   float64
	tokens  float64
	last    time.Time
	dropped int
}

func newLimitedLogger(out *log.Logger, rate, burst float64) *log.Logger {
	lw := &limitedWriter{out: out, now: time.Now, rate: rate, burst: burst, tokens: burst}
	return log.New(lw, "", 0)
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !l.last.IsZero() {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
	if l.tokens < 1 {
		l.dropped++
		return len(p), nil
	}
	l.tokens--
	if l.dropped > 0 {
		l.out.Printf("server: %d log messages suppressed", l.dropped)
		l.dropped = 0
	}
	msg := p
	if len(msg) > 0 && msg[len(msg)-1] == '\n' {
		msg = msg[:len(msg)-1]
	}
	l.out.Print(string(msg))
	return len(p), nil
}
