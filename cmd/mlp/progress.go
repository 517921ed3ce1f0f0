package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws a one-line progress bar for the current epoch on a
// terminal, redrawn in place at most every 50 ms. Its methods do nothing
// on a nil *progress.
type progress struct {
	w             io.Writer
	epoch, epochs int
	last          time.Time
	drawn         bool
}

const barWidth = 30

// update shows that done of total samples of the epoch are done.
func (p *progress) update(done, total int) {
	if p == nil || total <= 0 {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < 50*time.Millisecond && done < total {
		return
	}
	p.last = now
	n := barWidth * done / total
	fmt.Fprintf(p.w, "\repoch %d/%d [%s%s] %d/%d", p.epoch, p.epochs,
		strings.Repeat("=", n), strings.Repeat(" ", barWidth-n), done, total)
	p.drawn = true
}

// clear erases the bar, so that the next line starts clean.
func (p *progress) clear() {
	if p == nil || !p.drawn {
		return
	}
	fmt.Fprint(p.w, "\r\033[K")
	p.drawn = false
}
