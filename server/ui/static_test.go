package ui

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestStatic(t *testing.T) {
	h := staticHandler()
	for _, tc := range []struct {
		path, cache string
		code        int
		ctype       string
	}{
		{"/static/app.css?v=abc", "public, max-age=31536000, immutable", 200, "text/css"},
		{"/static/app.js", "no-cache", 200, "javascript"},
		{"/static/logo.svg", "no-cache", 200, "image/svg+xml"},
		{"/static/", "", 404, ""},
		{"/static/nope.css", "no-cache", 404, ""},
		{"/static/../render.go", "", 404, ""},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", tc.path, nil))
		if w.Code != tc.code {
			t.Errorf("%s: %d, want %d", tc.path, w.Code, tc.code)
			continue
		}
		if tc.code == 200 && (w.Header().Get("Cache-Control") != tc.cache || !strings.Contains(w.Header().Get("Content-Type"), tc.ctype)) {
			t.Errorf("%s: cache %q type %q", tc.path, w.Header().Get("Cache-Control"), w.Header().Get("Content-Type"))
		}
	}
}
