// Package browsertest is test support for the console's browser tests (web
// and cmd/joule): finding Chromium and collecting the errors a page
// reports. Only _test.go files import it.
package browsertest

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
)

// FindChromium returns the path of a Chromium or Chrome binary. Without one
// it skips the test, unless CI is set, where a missing browser is a failure.
func FindChromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found, and CI is set: install it (apt-get install chromium)")
	}
	t.Skip("chromium not found: skipping the browser test (apt-get install chromium)")
	return ""
}

// Errors collects what the page reports as errors: console.error calls,
// uncaught exceptions and browser log entries at level error (failed
// loads, CSP violations). Pass Listen to chromedp.ListenTarget.
type Errors struct {
	mu   sync.Mutex
	msgs []string
}

// Listen records ev if it reports an error.
func (b *Errors) Listen(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError {
			return
		}
		var parts []string
		for _, a := range ev.Args {
			if a.Value != nil {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		msg = "console.error: " + strings.Join(parts, " ")
	case *runtime.EventExceptionThrown:
		msg = "uncaught exception: " + ev.ExceptionDetails.Text
		if ex := ev.ExceptionDetails.Exception; ex != nil {
			msg += " " + ex.Description
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level != log.EntryLevelError {
			return
		}
		msg = "log " + string(ev.Entry.Source) + ": " + ev.Entry.Text + " " + ev.Entry.URL
	default:
		return
	}
	b.mu.Lock()
	b.msgs = append(b.msgs, msg)
	b.mu.Unlock()
}

// Take returns the errors recorded since the last Take.
func (b *Errors) Take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.msgs
	b.msgs = nil
	return m
}
