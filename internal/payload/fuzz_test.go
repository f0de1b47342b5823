package payload

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// runtimeStub stands for the runtime executable in front of a payload.
var runtimeStub = []byte("\x7fELF stand-in for the runtime\x00")

func sealStub(p []byte) []byte {
	a := append(bytes.Clone(runtimeStub), p...)
	return append(a, Trailer(p)...)
}

// FuzzReadPayload feeds the runtime's reader whole artifacts, as the
// runtime reads its own file at start: random bytes and mutations of a
// real artifact. Load must never panic, and must accept only what decodes
// into a site that encodes again. With reseal set, data is taken as a
// payload and given a valid trailer, so that mutations get past the
// checksum to the decoder: Load must then agree with Decode.
func FuzzReadPayload(f *testing.F) {
	p, err := Encode(testSite())
	if err != nil {
		f.Fatal(err)
	}
	good := sealStub(p)
	n := len(good)
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x01
		return b
	}
	for _, seed := range [][]byte{
		good,
		good[:n-1],
		good[:n-TrailerSize],
		good[:n-TrailerSize/2],
		flip(n - TrailerSize - 3),              // payload byte
		flip(n - 1),                            // checksum
		flip(n - TrailerSize + len(Magic)),     // version
		flip(n - TrailerSize + len(Magic) + 4), // length
		append(bytes.Clone(good), '\n'),
		[]byte(Magic),
		{},
	} {
		f.Add(seed, false)
	}
	f.Add(p, true)
	f.Add(p[:len(p)/2], true)
	f.Add([]byte{}, true)
	f.Fuzz(func(t *testing.T, data []byte, reseal bool) {
		artifact := data
		if reseal {
			artifact = sealStub(data)
		}
		site, err := Load(artifact)
		if reseal {
			want, derr := Decode(data)
			if (err == nil) != (derr == nil) {
				t.Fatalf("Load error %v, but Decode error %v for the same payload", err, derr)
			}
			if err == nil && !reflect.DeepEqual(site, want) {
				t.Fatal("Load and Decode return different sites for the same payload")
			}
		}
		if err != nil {
			var ce *CorruptError
			var fe *FormatError
			if !errors.Is(err, ErrNoPayload) && !errors.As(err, &ce) && !errors.As(err, &fe) {
				t.Fatalf("Load returned an untyped error: %v", err)
			}
			if site != nil {
				t.Fatal("Load returned a site with an error")
			}
			return
		}
		if !HasTrailer(artifact) {
			t.Fatal("Load accepted an artifact without a trailer")
		}
		again, err := Encode(site)
		if err != nil {
			t.Fatalf("a loaded site does not encode: %v", err)
		}
		if _, err := Load(sealStub(again)); err != nil {
			t.Fatalf("a loaded site, sealed again, does not load: %v", err)
		}
	})
}
