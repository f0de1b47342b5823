package image

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// CPIO entry kinds, as the file-type bits of a newc mode.
const (
	modeDir     = 0o040000
	modeFile    = 0o100000
	modeSymlink = 0o120000
	modeCharDev = 0o020000
)

// cpioEntry is one member of an initramfs archive.
type cpioEntry struct {
	name         string // relative, no leading slash: "init", "lib/modules"
	mode         uint32 // type bits | permission bits
	data         []byte // file contents or symlink target
	major, minor uint32 // device number for character devices
}

// Initramfs is an in-memory initramfs tree written as a reproducible newc
// cpio archive: entries are sorted by name, every mtime is zero, owners are
// root, and inode numbers are assigned in order from 1. Parent directories
// are created implicitly with mode 0755.
type Initramfs struct {
	entries map[string]*cpioEntry
}

// NewInitramfs returns an empty tree.
func NewInitramfs() *Initramfs {
	return &Initramfs{entries: make(map[string]*cpioEntry)}
}

func cleanName(name string) (string, error) {
	n := strings.TrimPrefix(path.Clean("/"+name), "/")
	if n == "" || n == "." || strings.Contains(name, "\x00") {
		return "", fmt.Errorf("image: invalid initramfs path %q", name)
	}
	return n, nil
}

func (fs *Initramfs) add(e *cpioEntry) error {
	name, err := cleanName(e.name)
	if err != nil {
		return err
	}
	e.name = name
	if old, ok := fs.entries[name]; ok {
		if old.mode&0o170000 == modeDir && e.mode&0o170000 == modeDir {
			old.mode = e.mode
			return nil
		}
		return fmt.Errorf("image: duplicate initramfs path %q", name)
	}
	for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
		if p, ok := fs.entries[dir]; ok {
			if p.mode&0o170000 != modeDir {
				return fmt.Errorf("image: initramfs path %q is below non-directory %q", name, dir)
			}
			continue
		}
		fs.entries[dir] = &cpioEntry{name: dir, mode: modeDir | 0o755}
	}
	fs.entries[name] = e
	return nil
}

// AddDir adds a directory with the given permission bits.
func (fs *Initramfs) AddDir(name string, perm uint32) error {
	return fs.add(&cpioEntry{name: name, mode: modeDir | perm&0o7777})
}

// AddFile adds a regular file. The data is referenced, not copied.
func (fs *Initramfs) AddFile(name string, perm uint32, data []byte) error {
	return fs.add(&cpioEntry{name: name, mode: modeFile | perm&0o7777, data: data})
}

// AddSymlink adds a symbolic link to target.
func (fs *Initramfs) AddSymlink(name, target string) error {
	return fs.add(&cpioEntry{name: name, mode: modeSymlink | 0o777, data: []byte(target)})
}

// AddCharDevice adds a character device node, e.g. dev/console (5, 1),
// which the kernel opens as init's stdin/stdout/stderr before running it.
func (fs *Initramfs) AddCharDevice(name string, perm, major, minor uint32) error {
	return fs.add(&cpioEntry{name: name, mode: modeCharDev | perm&0o7777, major: major, minor: minor})
}

// WriteTo writes the archive in newc format, ending with the TRAILER!!!
// record. It returns the number of bytes written and the first write error.
func (fs *Initramfs) WriteTo(w io.Writer) (int64, error) {
	names := make([]string, 0, len(fs.entries))
	for n := range fs.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	cw := &countWriter{w: bufio.NewWriterSize(w, 1<<16)}
	for i, n := range names {
		writeCPIORecord(cw, uint32(i+1), fs.entries[n])
	}
	writeCPIORecord(cw, 0, &cpioEntry{name: "TRAILER!!!"})
	if cw.err == nil {
		cw.err = cw.w.(*bufio.Writer).Flush()
	}
	return cw.n, cw.err
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

func (c *countWriter) pad() {
	if r := c.n % 4; r != 0 {
		c.Write(make([]byte, 4-r))
	}
}

// writeCPIORecord writes one newc header, name and data, each padded to a
// 4-byte boundary as the format requires.
func writeCPIORecord(cw *countWriter, ino uint32, e *cpioEntry) {
	nlink := uint32(1)
	if e.mode&0o170000 == modeDir {
		nlink = 2
	}
	if e.name == "TRAILER!!!" {
		nlink = 1
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, e.mode, 0, 0, nlink, 0, // ino, mode, uid, gid, nlink, mtime
		len(e.data), 0, 0, // filesize, devmajor, devminor (of the containing fs)
		e.major, e.minor, // rdevmajor, rdevminor
		len(e.name)+1, 0) // namesize including NUL, check
	io.WriteString(cw, hdr)
	io.WriteString(cw, e.name)
	cw.Write([]byte{0})
	cw.pad()
	cw.Write(e.data)
	cw.pad()
}
