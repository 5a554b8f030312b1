package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed templates static
var files embed.FS

// pages are the templates that render inside the layout; login renders alone.
var pages = []string{"overview", "findings", "finding", "hosts", "host", "timeline", "fleet", "rules",
	"rule_edit", "audit", "settings", "error"}

// renderer holds the parsed templates and the static files' fingerprints.
type renderer struct {
	pages  map[string]*template.Template
	login  *template.Template
	hashes map[string]string // static file -> short content hash, for cache-busting URLs
	now    func() time.Time
}

func newRenderer(now func() time.Time) (*renderer, error) {
	r := &renderer{pages: map[string]*template.Template{}, hashes: map[string]string{}, now: now}
	static, _ := fs.Sub(files, "static")
	err := fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		r.hashes[p] = hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ui: static files: %w", err)
	}
	base, err := template.New("").Funcs(r.funcs()).ParseFS(files, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("ui: layout: %w", err)
	}
	for _, name := range pages {
		t, err := template.Must(base.Clone()).ParseFS(files, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("ui: template %s: %w", name, err)
		}
		r.pages[name] = t
	}
	r.login, err = template.Must(base.Clone()).ParseFS(files, "templates/login.html")
	if err != nil {
		return nil, fmt.Errorf("ui: template login: %w", err)
	}
	return r, nil
}

// render writes a page inside the layout. Rendering goes to a buffer first so that a template
// error becomes a clean 500 rather than half a page.
func (r *renderer) render(w http.ResponseWriter, status int, page string, data any) error {
	t, ok := r.pages[page]
	if !ok {
		return fmt.Errorf("ui: no page %q", page)
	}
	return r.execute(w, status, t, "layout", data)
}

func (r *renderer) execute(w http.ResponseWriter, status int, t *template.Template, name string, data any) error {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("ui: render %s: %w", name, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

func (r *renderer) funcs() template.FuncMap {
	return template.FuncMap{
		"asset": func(name string) string { return "/static/" + name + "?v=" + r.hashes[name] },
		"icon":  icon,
		"ago":   func(t time.Time) string { return ago(r.now(), t) },
		"fmtTime": func(t any) string {
			switch v := t.(type) {
			case time.Time:
				return v.Local().Format("2006-01-02 15:04:05")
			case *time.Time:
				if v != nil {
					return v.Local().Format("2006-01-02 15:04:05")
				}
			}
			return ""
		},
		"fmtClock":    func(t time.Time) string { return t.Local().Format("15:04:05") },
		"rfc3339":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"statusLabel": statusLabel,
		"riskClass":   riskClass,
		"join":        strings.Join,
	}
}

// ago says how long before now t was, the way a person would.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute: // also slightly in the future: clocks differ
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	case d < 60*24*time.Hour:
		return fmt.Sprintf("%d days ago", int(d.Hours()/24))
	}
	return t.Local().Format("2 Jan 2006")
}

func statusLabel(s string) string {
	switch s {
	case "new":
		return "New"
	case "investigating":
		return "Investigating"
	case "resolved":
		return "Resolved"
	case "false_positive":
		return "False positive"
	}
	return s
}

func riskClass(score int) string {
	switch {
	case score >= 70:
		return "r-high"
	case score >= 40:
		return "r-med"
	case score > 0:
		return "r-low"
	}
	return ""
}

// staticHandler serves the embedded static files. URLs carry the content hash (asset), so
// they are cached for a year.
func staticHandler() http.Handler {
	static, _ := fs.Sub(files, "static")
	fsrv := http.FileServerFS(static)
	return http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "" || strings.HasSuffix(req.URL.Path, "/") || path.Ext(req.URL.Path) == "" {
			http.NotFound(w, req)
			return
		}
		if req.URL.Query().Get("v") != "" {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		fsrv.ServeHTTP(w, req)
	}))
}
