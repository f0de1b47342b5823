//go:build !unix

package payload

import "os"

func mapFile(f *os.File, size int64) ([]byte, error) { return readFile(f, size) }

func unmapFile([]byte) {}
