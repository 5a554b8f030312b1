package ui

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/server/auth"
)

// TestFormsCapped: a posted body over its cap is refused with 413 before anything reads it
// whole, so nobody (not even an unauthenticated client of the sign-in form) can make the
// server buffer or spool to disk a body of any size.
func TestFormsCapped(t *testing.T) {
	tu := newTestUI(t, "")
	// the sign-in form, without a session: a multipart file (Go's multipart parsing spools large
	// files to disk) and a plain URL-encoded field
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("username", "admin")
	fw, _ := mw.CreateFormFile("file", "big.bin")
	_, _ = fw.Write(bytes.Repeat([]byte{'x'}, 2*MaxLoginBytes))
	_ = mw.Close()
	for name, tc := range map[string]struct{ body, ctype string }{
		"multipart":   {mp.String(), mw.FormDataContentType()},
		"url-encoded": {"username=admin&password=" + strings.Repeat("x", 2*MaxLoginBytes), "application/x-www-form-urlencoded"},
	} {
		req := httptest.NewRequest("POST", "/login", strings.NewReader(tc.body))
		req.Header.Set("Content-Type", tc.ctype)
		w := httptest.NewRecorder()
		tu.ui.Handler().ServeHTTP(w, req)
		if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "too large") {
			t.Errorf("sign-in form, %s body of %d bytes: %d, want 413 saying it is too large", name, len(tc.body), w.Code)
		}
	}
	// a signed-in form: the cap is larger (a rule file is posted whole) but there is one
	form := url.Values{"id": {"x"}, "status": {"investigating"}, "comment": {strings.Repeat("y", MaxFormBytes)}}
	if w := tu.request("POST", "/findings/bulk", auth.RoleAnalyst, form, false); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("bulk triage form over %d bytes: %d, want 413", MaxFormBytes, w.Code)
	}
	// the editor's JSON under the same cap
	req := httptest.NewRequest("POST", "/rules/lint", strings.NewReader(`{"name":"x.yml","content":"`+strings.Repeat("z", MaxFormBytes)+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", tu.sessions[auth.RoleViewer].csrf)
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: tu.sessions[auth.RoleViewer].token})
	w := httptest.NewRecorder()
	tu.ui.Handler().ServeHTTP(w, req)
	if w.Code != http.StatusBadRequest {
		t.Errorf("live lint of a body over %d bytes: %d, want 400", MaxFormBytes, w.Code)
	}
	// a rule file at its own limit (1 MiB) still fits the form
	big := url.Values{"name": {"big.yml"}, "content": {strings.Repeat("#\n", 1<<19)}}
	if w := tu.request("POST", "/rules/new", auth.RoleAdmin, big, false); w.Code == http.StatusRequestEntityTooLarge {
		t.Errorf("a 1 MiB rule file posted from the editor: 413")
	}
}

// TestRedirectsStayLocal: the page a form or the sign-in goes back to is a path of this server,
// however it is disguised (browsers drop tabs and line breaks from a URL, so "/\t/evil.example"
// is //evil.example to them).
func TestRedirectsStayLocal(t *testing.T) {
	tu := newTestUI(t, "")
	for _, next := range []string{"/\t/evil.example", "/\n/evil.example", "/\t\\evil.example", "//evil.example", "https://evil.example"} {
		form := url.Values{"status": {"investigating"}, "back": {next}} // no finding selected: back with a message
		w := tu.request("POST", "/findings/bulk", auth.RoleAnalyst, form, false)
		if loc := w.Header().Get("Location"); w.Code != http.StatusSeeOther || loc != "/" {
			t.Errorf("form going back to %q: %d to %q, want 303 to /", next, w.Code, loc)
		}
		page := tu.request("GET", "/login?next="+url.QueryEscape(next), "", nil, false)
		if strings.Contains(page.Body.String(), "evil.example") {
			t.Errorf("login page keeps next=%q in its form", next)
		}
	}
}

// TestRuleFormRefusals: a rule file the policy service refuses for its name or size is a 400
// saying why, not a server error.
func TestRuleFormRefusals(t *testing.T) {
	tu := newTestUI(t, "")
	for name, form := range map[string]url.Values{
		"name outside the folder": {"name": {"../x.yml"}, "content": {"title: x"}},
		"not a .yml name":         {"name": {"x.txt"}, "content": {"title: x"}},
		"empty file":              {"name": {"x.yml"}, "content": {""}},
	} {
		w := tu.request("POST", "/rules/new", auth.RoleAdmin, form, false)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "x.") {
			t.Errorf("%s: %d, want 400 naming the file", name, w.Code)
		}
	}
}

// TestPageQueryRefusals: a page's query that cannot be used (a cursor the listing never
// returned) is a 400, not a server error; odd filters fall back to the defaults.
func TestPageQueryRefusals(t *testing.T) {
	tu := newTestUI(t, "")
	if w := tu.request("GET", "/audit?cursor=zz", auth.RoleAdmin, nil, false); w.Code != http.StatusBadRequest {
		t.Errorf("audit log with a forged cursor: %d, want 400", w.Code)
	}
	for _, p := range []string{"/findings?page=-1", "/findings?page=99999999999999999999", "/findings?level=bogus&range=bogus",
		"/hosts?state=weird", "/fleet?by=bogus", "/rules?tab=bogus", "/audit?limit=-1"} {
		if w := tu.request("GET", p, auth.RoleAdmin, nil, false); w.Code != http.StatusOK {
			t.Errorf("GET %s: %d, want the page with default filters", p, w.Code)
		}
	}
}
