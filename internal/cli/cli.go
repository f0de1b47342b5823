// Package cli holds the plumbing shared by certseal's commands: running a
// urfave/cli application with consistent error printing and exit codes,
// reading inputs (with "-" for stdin) and writing outputs safely.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	ucli "github.com/urfave/cli/v2"
)

// Exit codes shared by every command.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
)

// UsageError marks an error caused by how the command was invoked (bad
// flags, wrong number of arguments). Commands exit with ExitUsage for it.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a *UsageError with a formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// ExitCodeError carries an explicit exit status, for commands whose status
// is part of their contract (chain: 1 = invalid chain).
type ExitCodeError struct {
	Code int
	Err  error
}

func (e *ExitCodeError) Error() string { return e.Err.Error() }
func (e *ExitCodeError) Unwrap() error { return e.Err }

// Version is the module version stamped by the Go toolchain, or "devel".
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// Stderr is where diagnostics go. Tests may replace it.
var Stderr io.Writer = os.Stderr

// Warnf prints "tool: warning: ..." to stderr.
func Warnf(tool, format string, args ...any) {
	fmt.Fprintf(Stderr, "%s: warning: %s\n", tool, fmt.Sprintf(format, args...))
}

// Infof prints "tool: ..." to stderr; stdout is kept for data.
func Infof(tool, format string, args ...any) {
	fmt.Fprintf(Stderr, "%s: %s\n", tool, fmt.Sprintf(format, args...))
}

// Main runs app with args and returns the process exit code. It prints
// errors as "name: error: msg" on stderr, exits 2 on usage errors without
// dumping the help text, and never lets a panic escape as a stack trace
// with secrets in it.
func Main(app *ucli.App, args []string) (code int) {
	name := app.Name
	app.Version = Version()
	app.HideHelpCommand = true
	app.Writer = os.Stdout
	app.ErrWriter = Stderr
	app.Suggest = true
	app.OnUsageError = func(_ *ucli.Context, err error, _ bool) error {
		msg := err.Error()
		if f, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
			msg = "unknown flag " + f
		}
		return &UsageError{Msg: msg}
	}
	app.ExitErrHandler = func(*ucli.Context, error) {} // we decide exit codes below
	for _, c := range app.Commands {
		c.OnUsageError = app.OnUsageError
	}
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(Stderr, "%s: error: internal error: %v\n", name, r)
			fmt.Fprintf(Stderr, "%s: please report this at https://github.com/certseal/certseal/issues\n", name)
			code = ExitError
		}
	}()
	err := app.Run(reorderArgs(app, args))
	if err == nil {
		return ExitOK
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(Stderr, "%s: error: %s\n", name, ue.Msg)
		fmt.Fprintf(Stderr, "%s: run '%s --help' for usage\n", name, name)
		return ExitUsage
	}
	code = ExitError
	var ce *ExitCodeError
	if errors.As(err, &ce) {
		code = ce.Code
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintf(Stderr, "%s: error: %s\n", name, msg)
	}
	return code
}

// reorderArgs moves flags that follow positional arguments in front of
// them, so "chain a.pem b.pem -o out.pem" works as users expect; the Go
// flag package would otherwise stop at the first positional argument.
// Everything after a literal "--" is left alone.
func reorderArgs(app *ucli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range app.Flags {
		_, isBool := f.(*ucli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	var flags, positional []string
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			positional = append(positional, rest[i:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if strings.Contains(name, "=") {
				continue
			}
			if takesValue[name] && i+1 < len(rest) {
				i++
				flags = append(flags, rest[i])
			}
			continue
		}
		positional = append(positional, a)
	}
	out := append([]string{args[0]}, flags...)
	if len(positional) > 0 && positional[0] != "--" {
		out = append(out, "--")
	}
	return append(out, positional...)
}
