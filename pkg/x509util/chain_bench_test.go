package x509util

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"testing"
)

// bigBag hides the path leaf → inter2 → inter1 → root among 10,000
// certificates: decoy roots, decoy intermediates that share inter2's
// subject (so the subject index has a crowded bucket), and decoy leaves.
func bigBag(b *testing.B) ([]*x509.Certificate, *basePKI) {
	p := newBasePKI(b)
	keys := make([]crypto.Signer, 4)
	for i := range keys {
		keys[i] = ecKey(b)
	}
	var certs []*x509.Certificate
	var roots, inters []*node
	for i := range 1000 {
		roots = append(roots, issue(b, caTmpl(fmt.Sprintf("Decoy Root %d", i), 10), keys[i%4], nil))
	}
	for i := range 3000 {
		// Same subject as the real intermediate, another key.
		inters = append(inters, issue(b, caTmpl("Test Intermediate 2", 4), keys[i%4], roots[i%len(roots)]))
	}
	for i := range 10000 - 4 - len(roots) - len(inters) {
		certs = append(certs, issue(b, leafTmpl(fmt.Sprintf("host%d.example.net", i)), keys[i%4], inters[i%len(inters)]).cert)
	}
	certs = append(certs, certsOf(roots...)...)
	certs = append(certs, certsOf(inters...)...)
	certs = append(certs, certsOf(p.leaf, p.inter2, p.inter1, p.root)...)
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(certs), func(i, j int) { certs[i], certs[j] = certs[j], certs[i] })
	return certs, p
}

func BenchmarkOrderChain10k(b *testing.B) {
	certs, p := bigBag(b)
	if len(certs) != 10000 {
		b.Fatalf("%d certificates", len(certs))
	}
	opts := ChainOptions{Roots: pool(p.root.cert), Now: chainNow, Host: "www.example.com"}
	b.ResetTimer()
	for b.Loop() {
		res, err := OrderChain(certs, opts)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Chain) != 3 || res.Chain[0] != p.leaf.cert || len(res.Dropped) != 9996 {
			b.Fatalf("chain %q, %d dropped", cns(res.Chain), len(res.Dropped))
		}
	}
}
