package x509util

import (
	"testing"
	"time"
)

// FuzzOrderChain feeds arbitrary bytes through ParseBag and OrderChain:
// neither may panic or hang, whatever the input.
func FuzzOrderChain(f *testing.F) {
	p := newBasePKI(f)
	all := certsOf(p.leaf, p.inter2, p.inter1, p.root, p.other)
	f.Add(EncodeCertificatesPEM(all...))
	f.Add(EncodeCertificatesPEM(p.inter1.cert, p.leaf.cert))
	f.Add(append(append([]byte{}, p.root.cert.Raw...), p.leaf.cert.Raw...))
	f.Add(EncodeCertificatesPEM(p.leaf.cert)[:200])
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	roots := pool(p.root.cert)
	f.Fuzz(func(t *testing.T, data []byte) {
		bag, err := ParseBag(data, "")
		if err != nil {
			return
		}
		for _, noVerify := range []bool{false, true} {
			done := make(chan struct{})
			go func() {
				defer close(done)
				res, err := OrderChain(bag.Certificates, ChainOptions{Roots: roots, Now: chainNow, NoVerify: noVerify, Host: "www.example.com"})
				if err == nil && (res == nil || len(res.Chain) == 0) {
					t.Errorf("no error and no chain")
				}
				if err != nil && len(bag.Certificates) > 0 && res == nil {
					t.Errorf("nil result with error %v", err)
				}
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("OrderChain hangs")
			}
		}
	})
}
