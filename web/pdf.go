package web

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// chromiumNames are the binaries Config.Chromium "" looks for on PATH.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// PDFTimeout bounds one print to PDF.
const PDFTimeout = 60 * time.Second

// maxPrints is how many prints may run at once; more wait their turn.
const maxPrints = 2

// pdfPrinter prints HTML to PDF with headless Chromium's --print-to-pdf.
type pdfPrinter struct {
	path string // "" when no browser was found
	why  string // why PDF is unavailable, when path is ""
	sem  chan struct{}
}

// newPDFPrinter finds the browser: name is a path or a name on PATH; ""
// tries chromiumNames.
func newPDFPrinter(name string) *pdfPrinter {
	p := &pdfPrinter{sem: make(chan struct{}, maxPrints)}
	names := chromiumNames
	if name != "" {
		names = []string{name}
	}
	for _, n := range names {
		if path, err := exec.LookPath(n); err == nil {
			p.path = path
			return p
		}
	}
	p.why = "PDF needs Chromium or Chrome on the server, and none was found (looked for " + strings.Join(names, ", ") +
		"). Install it (apt-get install chromium) and restart joule, or download the HTML and print it from a browser."
	return p
}

// pdfCSP is put into the page Chromium prints: the report is static HTML
// and SVG, so it may load nothing and run nothing.
const pdfCSP = `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`

// print renders page (a complete HTML document) to PDF.
func (p *pdfPrinter) print(ctx context.Context, page []byte) ([]byte, error) {
	if p.path == "" {
		return nil, fmt.Errorf("print pdf: %s", p.why)
	}
	select {
	case p.sem <- struct{}{}:
		defer func() { <-p.sem }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	ctx, cancel := context.WithTimeout(ctx, PDFTimeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "joule-pdf-")
	if err != nil {
		return nil, fmt.Errorf("print pdf: %v", err)
	}
	defer os.RemoveAll(dir)
	in, out := filepath.Join(dir, "report.html"), filepath.Join(dir, "report.pdf")
	page = bytes.Replace(page, []byte("<head>"), []byte("<head>"+pdfCSP), 1)
	if err := os.WriteFile(in, page, 0o600); err != nil {
		return nil, fmt.Errorf("print pdf: %v", err)
	}
	args := []string{"--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--no-proxy-server", "--user-data-dir=" + filepath.Join(dir, "profile"), "--no-pdf-header-footer",
		"--print-to-pdf=" + out, "file://" + in}
	if os.Geteuid() == 0 {
		// Chromium refuses to run as root with its sandbox.
		args = append([]string{"--no-sandbox"}, args...)
	}
	cmd := exec.CommandContext(ctx, p.path, args...)
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("print pdf: %s: %v: %s", p.path, err, lastLines(stderr.String(), 5))
	}
	pdf, err := os.ReadFile(out)
	if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		return nil, fmt.Errorf("print pdf: %s wrote no PDF (%v): %s", p.path, err, lastLines(stderr.String(), 5))
	}
	return pdf, nil
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
