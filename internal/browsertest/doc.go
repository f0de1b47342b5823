// Package browsertest holds no code, only a test: a real browser
// (headless Chromium, trusting a test root through its NSS database)
// loads the sealed example site over HTTPS, and the test checks the page
// rendered with its stylesheet and image and without a certificate error.
package browsertest
