//go:build unix

package payload

import (
	"os"
	"syscall"
)

func mapFile(f *os.File, size int64) ([]byte, error) {
	if int64(int(size)) != size {
		return nil, syscall.EFBIG
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		// Some file systems cannot map; reading is slower but correct.
		return readFile(f, size)
	}
	return data, nil
}

func unmapFile(data []byte) { _ = syscall.Munmap(data) }
