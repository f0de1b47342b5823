package x509util

import (
	"testing"
	"time"
)

func BenchmarkGenerateKey(b *testing.B) {
	for _, spec := range []struct {
		name string
		spec KeySpec
	}{{"RSA-2048", rsaSpec}, {"P-256", p256Spec}, {"P-384", p384Spec}, {"Ed25519", ed25519Spec}} {
		b.Run(spec.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := GenerateKey(spec.spec, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchSelfSign measures what 'selfsign' does: make a key, self-sign a
// certificate and encode both as PEM.
func benchSelfSign(b *testing.B, spec KeySpec) {
	opts := Options{Subject: Subject{CommonName: "bench.example"}, Now: testNow, Validity: 365 * 24 * time.Hour}
	for b.Loop() {
		key, err := GenerateKey(spec, nil)
		if err != nil {
			b.Fatal(err)
		}
		c, err := SelfSign(key, opts)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := MarshalPrivateKeyPEM(key); err != nil {
			b.Fatal(err)
		}
		_ = EncodeCertificatesPEM(c)
	}
}

func BenchmarkSelfSignP256(b *testing.B)    { benchSelfSign(b, p256Spec) }
func BenchmarkSelfSignRSA2048(b *testing.B) { benchSelfSign(b, rsaSpec) }

// BenchmarkSelfSignP256ExistingKey isolates certificate creation.
func BenchmarkSelfSignP256ExistingKey(b *testing.B) {
	key := testKey(b, p256Spec, "bench")
	opts := Options{Subject: Subject{CommonName: "bench.example"}, Now: testNow, Validity: 365 * 24 * time.Hour}
	for b.Loop() {
		if _, err := SelfSign(key, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignCSR(b *testing.B) {
	for _, spec := range []struct {
		name string
		spec KeySpec
	}{{"RSA-2048-CA", rsaSpec}, {"P-256-CA", p256Spec}} {
		b.Run(spec.name, func(b *testing.B) {
			ca, caKey := testCA(b, spec.spec, "bench")
			csr, err := CreateCSR(testKey(b, p256Spec, "leaf"), Options{Subject: Subject{CommonName: "bench.example"}})
			if err != nil {
				b.Fatal(err)
			}
			opts := Options{Now: testNow, Validity: 90 * 24 * time.Hour}
			for b.Loop() {
				if _, err := SignCSR(csr, ca, caKey, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseBagPEMChain(b *testing.B) {
	ca, caKey := testCA(b, p256Spec, "bench")
	leaf := issueLeaf(b, ca, caKey, testKey(b, p256Spec, "leaf"), "bench.example", Options{})
	data := EncodeCertificatesPEM(leaf, ca)
	for b.Loop() {
		if _, err := ParseBag(data, ""); err != nil {
			b.Fatal(err)
		}
	}
}
