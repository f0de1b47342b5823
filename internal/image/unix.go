// Package image holds seal's target writers: each turns the sealed
// runtime and a payload into something that runs (an executable, a VM
// image, an OCI image).
package image

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"

	"github.com/certseal/certseal/internal/payload"
)

// Unix returns a native executable: the runtime's bytes, then the payload,
// then its trailer. The runtime finds the payload by reading the end of its
// own file. It returns an error if runtime already carries a sealed
// payload (sealing an artifact again would serve the old site).
func Unix(runtime, encodedPayload []byte) ([]byte, error) {
	if payload.HasTrailer(runtime) {
		return nil, errors.New("the runtime already contains a sealed site; give seal the plain seal-runtime executable")
	}
	out := make([]byte, 0, len(runtime)+len(encodedPayload)+payload.TrailerSize)
	out = append(out, runtime...)
	out = append(out, encodedPayload...)
	return append(out, payload.Trailer(encodedPayload)...), nil
}

// IsStatic reports whether the ELF executable at path is statically
// linked, that is has no PT_INTERP program header asking for a dynamic
// loader. VM and OCI images have no libc, so their writers refuse dynamic
// runtimes. It returns an error if path cannot be read or is not ELF.
func IsStatic(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		var fe *elf.FormatError
		if errors.As(err, &fe) {
			return false, fmt.Errorf("%s is not an ELF executable", path)
		}
		if errors.Is(err, os.ErrNotExist) {
			return false, fmt.Errorf("%s does not exist", path)
		}
		return false, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}
