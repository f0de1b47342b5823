// Package acme obtains certificates from an RFC 8555 certificate authority
// (Let's Encrypt or any ACME server) for a certificate signing request the
// user made, so the private key never leaves the user's machine.
//
// It adds to golang.org/x/crypto/acme what a command or a server needs
// around the protocol: account registration or reuse, one order for all of
// a CSR's names, challenge answers (HTTP-01 by an in-memory handler or by
// files under a webroot, TLS-ALPN-01 by a certificate hook), bounded
// retries, and errors that say what the CA refused and why.
//
// The protocol itself is golang.org/x/crypto/acme: it is small, maintained
// by the Go team in the std-lib style, already a dependency of this module,
// and retries badNonce errors on its own (Client.post clears its nonces and
// tries again under Client.RetryBackoff). lego would bring dozens of DNS
// providers and their dependencies that certseal does not use. The
// finalisation uses Client.CreateCertFromOrder, not CreateOrderCert: the
// latter needs a Location header in the finalize response that some CAs
// (pebble 2.10) do not send.
package acme
