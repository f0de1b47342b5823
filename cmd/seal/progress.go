package main

import (
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressMinFiles is the site size from which packing shows a progress
// bar: smaller sites finish before a bar is worth drawing.
const progressMinFiles = 500

// progress draws a bar on stderr when it is a terminal and the site is
// large; otherwise it is silent. The zero value is silent.
type progress struct {
	bar *progressbar.ProgressBar
	tty bool
}

func newProgress() *progress {
	return &progress{tty: term.IsTerminal(int(os.Stderr.Fd()))}
}

func (p *progress) update(done, total int) {
	if !p.tty || total < progressMinFiles {
		return
	}
	if p.bar == nil {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(os.Stderr),
			progressbar.OptionSetDescription("seal: packing"),
			progressbar.OptionShowCount(),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	p.bar.Set(done)
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
