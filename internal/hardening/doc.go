// Package hardening holds no code: its tests attack a real sealed artifact
// (seal-runtime built with CGO_ENABLED=0, a test site appended) over
// loopback. They run testssl.sh, h2spec, h2load and hand-made hostile
// clients, and check the figures that SECURITY.md reports.
package hardening
