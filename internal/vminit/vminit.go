//go:build linux

// Package vminit is PID 1 inside a certseal VM image: the sealed server is
// the initramfs's /init, and before serving it mounts the pseudo
// filesystems, loads the network driver modules for the devices actually
// present (the way modprobe does, from the modules.alias and modules.dep
// that seal copied into the image), and configures the network by DHCP or
// statically. It also reaps orphaned children and powers the VM off on a
// fatal error instead of letting the kernel panic or hang.
//
// Everything is logged to the console with the "init: " prefix.
package vminit

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Logger writes init's console messages.
var Logger = log.New(os.Stderr, "init: ", 0)

// IsInit reports whether this process is PID 1, i.e. runs as a VM's init.
func IsInit() bool { return os.Getpid() == 1 }

// Boot prepares the VM before the payload is read: it mounts /proc, /sys
// and /dev (devtmpfs), points stdio at /dev/console, starts reaping
// children, and loads the driver modules for the devices present. Module
// failures are logged and not fatal (the NIC driver may be built in); the
// error is for a failed mount.
func Boot() error {
	start := time.Now()
	for _, m := range []struct{ src, dir, fstype string }{
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"devtmpfs", "/dev", "devtmpfs"},
	} {
		if err := os.MkdirAll(m.dir, 0o755); err != nil {
			return fmt.Errorf("creating %s: %v", m.dir, err)
		}
		err := unix.Mount(m.src, m.dir, m.fstype, unix.MS_NOSUID|unix.MS_NOEXEC, "")
		if err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mounting %s: %v", m.dir, err)
		}
	}
	os.MkdirAll("/tmp", 0o1777)
	os.MkdirAll("/etc", 0o755)
	reopenConsole()
	go reap()
	loaded, err := LoadModules("/lib/modules", "/sys")
	if err != nil {
		Logger.Printf("warning: loading driver modules: %v", err)
	}
	if len(loaded) > 0 {
		Logger.Printf("loaded modules: %s", strings.Join(loaded, " "))
	}
	Logger.Printf("booted in %v (since init started)", time.Since(start).Round(time.Millisecond))
	return nil
}

// reopenConsole makes stdin/stdout/stderr the console when the kernel
// could not open it (no /dev/console in the initramfs).
func reopenConsole() {
	if _, err := unix.FcntlInt(2, unix.F_GETFD, 0); err == nil {
		return
	}
	f, err := os.OpenFile("/dev/console", os.O_RDWR, 0)
	if err != nil {
		return
	}
	for fd := 0; fd <= 2; fd++ {
		unix.Dup2(int(f.Fd()), fd)
	}
}

// reap waits for every child that exits: as PID 1 the VM's init inherits
// orphans, which would otherwise stay zombies.
func reap() {
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, unix.SIGCHLD)
	for range ch {
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}

// Fatal logs err to the console and powers the VM off. It never returns.
func Fatal(err error) {
	Logger.Printf("fatal: %v", err)
	PowerOff()
}

// PowerOff syncs the filesystems and powers the machine off. Should the
// reboot call fail (not PID 1, no permission), it exits with status 1.
func PowerOff() {
	Logger.Printf("powering off")
	unix.Sync()
	time.Sleep(100 * time.Millisecond) // let the console drain
	err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	Logger.Printf("power off failed: %v", err)
	os.Exit(1)
}

// readFileTrim reads a small sysfs/proc file, without trailing newline.
func readFileTrim(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 4096))
	return strings.TrimSpace(string(b))
}

// kernelRelease returns uname -r.
func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// modulesDir returns root/RELEASE, or the only directory under root when
// there is no exact match.
func modulesDir(root string) (string, error) {
	if rel := kernelRelease(); rel != "" {
		d := filepath.Join(root, rel)
		if _, err := os.Stat(filepath.Join(d, "modules.dep")); err == nil {
			return d, nil
		}
	}
	ents, _ := filepath.Glob(filepath.Join(root, "*", "modules.dep"))
	if len(ents) == 1 {
		return filepath.Dir(ents[0]), nil
	}
	return "", fmt.Errorf("no modules for kernel %s under %s", kernelRelease(), root)
}
