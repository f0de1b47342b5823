// Package x509util is certseal's one place that knows X.509: it generates
// keys, makes self-signed certificates, CSRs and CA-issued certificates,
// reads and writes every common container (PEM, DER, PKCS#7, PKCS#12),
// orders and verifies chains, and summarises certificates.
//
// It takes bytes, keys, options and a time and returns values and typed
// errors; it never reads the clock, the file system or flags itself, so
// every result is reproducible in tests.
package x509util
