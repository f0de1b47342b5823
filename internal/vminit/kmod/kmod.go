// Package kmod reads the kernel's module index files (modules.dep and
// modules.alias, as written by depmod) and answers the two questions
// modprobe answers: which modules claim a device modalias, and in which
// order a module and its dependencies must be loaded. It is used at seal
// time to choose the modules copied into an initramfs and at boot, in the
// VM, to load them. It imports only the standard library.
package kmod

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// Module is one line of modules.dep.
type Module struct {
	Name string   // canonical name: base name without .ko*, "-" as "_"
	Path string   // as written in modules.dep, relative to the modules dir
	Deps []string // canonical names of all dependencies, as listed
}

// Alias is one line of modules.alias: a glob pattern and the module that
// claims devices whose modalias matches it.
type Alias struct {
	Pattern string
	Module  string // canonical name
}

// Index is a parsed modules.dep plus modules.alias.
type Index struct {
	Modules map[string]*Module
	Aliases []Alias
}

// Name returns the canonical module name for a module file path or name:
// "kernel/drivers/net/xen-netfront.ko.xz" → "xen_netfront".
func Name(p string) string {
	n := path.Base(p)
	if i := strings.Index(n, ".ko"); i >= 0 {
		n = n[:i]
	}
	return strings.ReplaceAll(n, "-", "_")
}

// ParseDep parses modules.dep. It returns an error naming the line for a
// line without the "path:" separator.
func ParseDep(r io.Reader) (map[string]*Module, error) {
	mods := make(map[string]*Module)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		p, deps, ok := strings.Cut(text, ":")
		if !ok || p == "" {
			return nil, fmt.Errorf("kmod: modules.dep line %d: missing ':'", line)
		}
		m := &Module{Name: Name(p), Path: p}
		for _, d := range strings.Fields(deps) {
			m.Deps = append(m.Deps, Name(d))
		}
		mods[m.Name] = m
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kmod: reading modules.dep: %v", err)
	}
	return mods, nil
}

// ParseAlias parses modules.alias ("alias PATTERN MODULE" lines). Other
// lines are ignored.
func ParseAlias(r io.Reader) ([]Alias, error) {
	var aliases []Alias
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "alias" {
			continue
		}
		aliases = append(aliases, Alias{Pattern: f[1], Module: Name(f[2])})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kmod: reading modules.alias: %v", err)
	}
	return aliases, nil
}

// Match returns the names of the modules whose alias patterns match
// modalias, sorted and without duplicates. Modules absent from the index's
// modules.dep (built into the kernel, or left out of a trimmed index) are
// not returned.
func (ix *Index) Match(modalias string) []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range ix.Aliases {
		if seen[a.Module] || !Glob(a.Pattern, modalias) {
			continue
		}
		if _, ok := ix.Modules[a.Module]; !ok {
			continue
		}
		seen[a.Module] = true
		out = append(out, a.Module)
	}
	sort.Strings(out)
	return out
}

// LoadOrder returns the modules to load for names, dependencies first,
// each once. depmod lists a module's dependencies so that loading them from
// last to first works; the order here honours that. It returns an error
// naming the first module (or dependency) missing from the index.
func (ix *Index) LoadOrder(names ...string) ([]*Module, error) {
	var order []*Module
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name, from string) error
	visit = func(name, from string) error {
		switch state[name] {
		case 1, 2:
			return nil // done, or a cycle depmod would have rejected
		}
		m, ok := ix.Modules[name]
		if !ok {
			if from != "" {
				return fmt.Errorf("kmod: module %s (needed by %s) is not in modules.dep", name, from)
			}
			return fmt.Errorf("kmod: module %s is not in modules.dep", name)
		}
		state[name] = 1
		for i := len(m.Deps) - 1; i >= 0; i-- {
			if err := visit(m.Deps[i], name); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, m)
		return nil
	}
	for _, n := range names {
		if err := visit(Name(n), ""); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// WriteDep writes mods in modules.dep format, sorted by path, with each
// module's dependencies given as the paths of mods (a trimmed index).
func WriteDep(w io.Writer, mods []*Module, all map[string]*Module) error {
	sorted := append([]*Module(nil), mods...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	bw := bufio.NewWriter(w)
	for _, m := range sorted {
		bw.WriteString(m.Path)
		bw.WriteString(":")
		for _, d := range m.Deps {
			if dm, ok := all[d]; ok {
				bw.WriteString(" ")
				bw.WriteString(dm.Path)
			}
		}
		bw.WriteString("\n")
	}
	return bw.Flush()
}

// Glob reports whether s matches the fnmatch(3)-style pattern used in
// modules.alias: '*' matches any run of characters (including '/'), '?'
// one character, "[...]" a class with ranges and '!' or '^' negation, and
// '\' escapes the next character. A malformed class matches literally.
func Glob(pattern, s string) bool {
	// Iterative matching with backtracking to the last '*'.
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		if px < len(pattern) {
			switch c := pattern[px]; c {
			case '*':
				starP, starS = px, sx
				px++
				continue
			case '?':
				px++
				sx++
				continue
			case '[':
				if ok, n, valid := matchClass(pattern[px:], s[sx]); valid {
					if ok {
						px += n
						sx++
						continue
					}
				} else if s[sx] == '[' {
					px++
					sx++
					continue
				}
			case '\\':
				if px+1 < len(pattern) && pattern[px+1] == s[sx] {
					px += 2
					sx++
					continue
				}
			default:
				if c == s[sx] {
					px++
					sx++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		px, sx = starP+1, starS
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}

// matchClass matches c against the class at the start of p ("[...]"). It
// returns whether c matched, the class's length, and whether the class is
// well formed.
func matchClass(p string, c byte) (matched bool, n int, valid bool) {
	i := 1
	negate := false
	if i < len(p) && (p[i] == '!' || p[i] == '^') {
		negate = true
		i++
	}
	first := true
	for i < len(p) {
		if p[i] == ']' && !first {
			return matched != negate, i + 1, true
		}
		first = false
		lo := p[i]
		if lo == '\\' && i+1 < len(p) {
			i++
			lo = p[i]
		}
		hi := lo
		if i+2 < len(p) && p[i+1] == '-' && p[i+2] != ']' {
			hi = p[i+2]
			i += 2
		}
		if lo <= c && c <= hi {
			matched = true
		}
		i++
	}
	return false, 0, false
}
