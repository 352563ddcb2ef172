package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"mime"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/joule-dev/joule/internal/chart"
)

// files holds the page templates and the static files (CSS, icon).
//
//go:embed templates static
var files embed.FS

// staticFiles are the files under static/, each with a content hash that
// versions its URL, so browsers may cache them for a year.
type staticFiles struct {
	byName map[string]staticFile
}

type staticFile struct {
	data []byte
	hash string // first 16 hex digits of the SHA-256
	typ  string
}

func loadStatic() (*staticFiles, error) {
	s := &staticFiles{byName: map[string]staticFile{}}
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		typ := mime.TypeByExtension(path.Ext(p))
		if typ == "" {
			typ = http.DetectContentType(data)
		}
		s.byName[strings.TrimPrefix(p, "static/")] = staticFile{data: data, hash: hex.EncodeToString(sum[:8]), typ: typ}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load static files: %v", err)
	}
	return s, nil
}

// url returns the versioned URL of a static file.
func (s *staticFiles) url(name string) (string, error) {
	f, ok := s.byName[name]
	if !ok {
		return "", fmt.Errorf("no static file %q", name)
	}
	return "/static/" + name + "?v=" + f.hash, nil
}

// serveStatic serves a file under /static/ (the prefix already stripped).
// A URL carrying the file's current hash is cached for a year; other
// requests revalidate with the ETag.
func (c *Console) serveStatic(w http.ResponseWriter, r *http.Request) {
	f, ok := c.static.byName[r.URL.Path]
	if !ok {
		c.notFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.typ)
	h.Set("ETag", `"`+f.hash+`"`)
	if r.URL.Query().Get("v") == f.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=300, must-revalidate")
	}
	http.ServeContent(w, r, r.URL.Path, time.Time{}, bytes.NewReader(f.data))
}

// pageNames are the templates under templates/ that render whole pages;
// each is parsed together with layout.html.
var pageNames = []string{"login.html", "overview.html", "audit.html", "settings.html", "soon.html", "error.html", "jobs.html", "job.html", "energy.html", "datasets.html", "dataset.html"}

// parseTemplates parses every page with the shared layout and functions.
func (c *Console) parseTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"static": c.static.url,
		"time":   fmtTime,
		"ago":    func(t time.Time) string { return ago(c.cfg.Now(), t) },
		"gib":    func(b int64) string { return strconv.FormatFloat(float64(b)/(1<<30), 'f', 1, 64) + " GiB" },
		"pct":    func(f float64) string { return chart.FormatValue(f*100) + " %" },
		"bytes":  humanBytes,
		"deref":  func(f *float64) float64 { return *f },
		"joules": fmtJoules,
		"grams":  fmtGrams,
		"pct100": func(f float64) float64 { return f * 100 },
		"has":    slices.Contains[[]string],
		// kindClass turns a method kind into a class name.
		"kindClass": func(kind string) string { return strings.ReplaceAll(strings.ReplaceAll(kind, " + ", "-"), " ", "-") },
		"dict": func(kv ...any) (map[string]any, error) {
			if len(kv)%2 != 0 {
				return nil, fmt.Errorf("dict: odd number of arguments")
			}
			m := make(map[string]any, len(kv)/2)
			for i := 0; i < len(kv); i += 2 {
				k, ok := kv[i].(string)
				if !ok {
					return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
				}
				m[k] = kv[i+1]
			}
			return m, nil
		},
		"fmtF":    fmtF,
		"cmClass": shadeClass,
		"corr":    corrCell,
		"timep": func(t *time.Time) string {
			if t == nil {
				return "—"
			}
			return fmtTime(*t)
		},
	}
	maps.Copy(funcs, sustainFuncs)
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, name := range slices.Concat(pageNames, sustainPageNames, modelPageNames, deploymentPageNames) {
		t, err := base.Clone()
		if err == nil {
			t, err = t.ParseFS(files, "templates/"+name)
		}
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}

// fmtTime formats t in UTC to the second, or "—" for the zero time.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// ago says how long before now t was, roughly: "12 s ago", "3 min ago".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < 0 {
		return "in the future"
	}
	return duration(d) + " ago"
}

// duration formats d with its two largest units: "45 s", "3 min 12 s",
// "5 h 2 min", "2 d 3 h".
func duration(d time.Duration) string {
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%d s", s)
	case s < 3600:
		return fmt.Sprintf("%d min %d s", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%d h %d min", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%d d %d h", s/86400, s%86400/3600)
}
