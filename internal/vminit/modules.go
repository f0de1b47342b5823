//go:build linux

package vminit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/certseal/certseal/internal/vminit/kmod"
	"golang.org/x/sys/unix"
)

// LoadModules loads, with finit_module, the modules that claim the
// devices listed under sysRoot (their modalias files), with their
// dependencies first, as modprobe would. Loading a bus driver such as
// virtio_pci makes new devices appear, so it repeats until a round loads
// nothing new. It returns the names loaded; the error reports a missing or
// unreadable index, and the first module that failed to load (the others
// are still tried).
func LoadModules(modulesRoot, sysRoot string) ([]string, error) {
	dir, err := modulesDir(modulesRoot)
	if err != nil {
		return nil, err
	}
	ix, err := readIndex(dir)
	if err != nil {
		return nil, err
	}
	tried := map[string]bool{}
	var loaded []string
	var firstErr error
	for round := 0; round < 8; round++ {
		var want []string
		for _, alias := range modaliases(sysRoot) {
			for _, m := range ix.Match(alias) {
				if !tried[m] {
					want = append(want, m)
				}
			}
		}
		if len(want) == 0 {
			break
		}
		order, err := ix.LoadOrder(want...)
		if err != nil {
			return loaded, err
		}
		for _, m := range order {
			if tried[m.Name] {
				continue
			}
			tried[m.Name] = true
			switch err := loadModule(filepath.Join(dir, filepath.FromSlash(m.Path))); {
			case err == nil:
				loaded = append(loaded, m.Name)
			case errors.Is(err, unix.EEXIST):
			default:
				if firstErr == nil {
					firstErr = fmt.Errorf("%s: %v", m.Name, err)
				}
			}
		}
		// Devices created by a bus driver's probe are registered before
		// finit_module returns, but give deferred probes a moment.
		time.Sleep(20 * time.Millisecond)
	}
	return loaded, firstErr
}

func readIndex(dir string) (*kmod.Index, error) {
	df, err := os.Open(filepath.Join(dir, "modules.dep"))
	if err != nil {
		return nil, err
	}
	defer df.Close()
	mods, err := kmod.ParseDep(df)
	if err != nil {
		return nil, err
	}
	af, err := os.Open(filepath.Join(dir, "modules.alias"))
	if err != nil {
		return nil, err
	}
	defer af.Close()
	aliases, err := kmod.ParseAlias(af)
	if err != nil {
		return nil, err
	}
	return &kmod.Index{Modules: mods, Aliases: aliases}, nil
}

// modaliases returns the distinct modalias strings of the devices under
// sysRoot/devices, sorted.
func modaliases(sysRoot string) []string {
	seen := map[string]bool{}
	filepath.WalkDir(filepath.Join(sysRoot, "devices"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		if d.Name() == "modalias" && d.Type().IsRegular() {
			if a := readFileTrim(p); a != "" {
				seen[a] = true
			}
		}
		return nil
	})
	out := make([]string, 0, len(seen))
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

func loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	flags := 0
	if !strings.HasSuffix(path, ".ko") {
		flags = unix.MODULE_INIT_COMPRESSED_FILE
	}
	return unix.FinitModule(int(f.Fd()), "", flags)
}
