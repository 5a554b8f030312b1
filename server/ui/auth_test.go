package ui

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/server/auth"
	"github.com/vigilhq/vigil/server/store"
)

// TestRouteTable walks every page and form: without a session a page goes to the login form
// and a form is refused; a role below the route's is refused; a form without the session's
// CSRF token is refused.
func TestRouteTable(t *testing.T) {
	tu := newTestUI(t, "")
	path := func(p string) string {
		return strings.NewReplacer("{$}", "", "{id}", "x", "{tab}", "account").Replace(p)
	}
	for _, rt := range tu.ui.routes {
		p := path(rt.pattern)
		if rt.method == http.MethodGet {
			w := tu.request("GET", p, "", nil, false)
			if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/login?next=") {
				t.Errorf("GET %s without a session: %d %s, want 303 to the login form", p, w.Code, w.Header().Get("Location"))
			}
		} else {
			if w := tu.request(rt.method, p, "", url.Values{}, false); w.Code != http.StatusUnauthorized {
				t.Errorf("%s %s without a session: %d, want 401", rt.method, p, w.Code)
			}
			if w := tu.request(rt.method, p, auth.RoleAdmin, url.Values{}, true); w.Code != http.StatusForbidden {
				t.Errorf("%s %s without a CSRF token: %d, want 403", rt.method, p, w.Code)
			}
		}
		for _, role := range auth.Roles {
			if role.Allows(rt.role) {
				continue
			}
			var form url.Values
			if rt.method != http.MethodGet {
				form = url.Values{}
			}
			if w := tu.request(rt.method, p, role, form, false); w.Code != http.StatusForbidden {
				t.Errorf("%s %s as %s (needs %s): %d, want 403", rt.method, p, role, rt.role, w.Code)
			}
		}
	}
	// every state-changing form names its audit action
	for _, rt := range tu.ui.routes {
		if rt.method != http.MethodGet && rt.op == "" && rt.pattern != "/rules/lint" && rt.pattern != "/rules/test" {
			t.Errorf("%s %s changes state but has no audit action", rt.method, rt.pattern)
		}
	}
}

func TestPagesRender(t *testing.T) {
	tu := newTestUI(t, "")
	ctx := context.Background()
	if _, err := seedSmall(tu.st); err != nil {
		t.Fatal(err)
	}
	fs, _, _ := tu.st.ListFindings(ctx, store.FindingFilter{})
	hosts, _, _ := tu.st.ListHosts(ctx, store.HostFilter{})
	for _, p := range []string{"/", "/findings", "/findings?level=high&status=resolved&range=7d&page=2", "/findings/" + fs[0].ID,
		"/hosts", "/hosts?state=offline&q=lap", "/hosts/" + hosts[0].ID, "/hosts/" + hosts[0].ID + "/timeline", "/fleet", "/fleet?by=gateway",
		"/rules", "/rules?tab=builtin&q=anydesk", "/rules?tab=versions", "/rules/new", "/audit", "/settings", "/settings/users", "/settings/enroll",
		"/settings/networks", "/settings/destinations", "/settings/suppressions", "/settings/retention", "/settings/sso"} {
		w := tu.request("GET", p, auth.RoleAdmin, nil, false)
		if w.Code != 200 || !strings.Contains(w.Body.String(), "</html>") {
			t.Errorf("GET %s: %d", p, w.Code)
		}
	}
	if w := tu.request("GET", "/findings/nope", auth.RoleAdmin, nil, false); w.Code != 404 {
		t.Errorf("unknown finding: %d", w.Code)
	}
	if w := tu.request("GET", "/settings/users", auth.RoleViewer, nil, false); w.Code != 404 {
		t.Errorf("admin tab for a viewer: %d, want 404 (not offered)", w.Code)
	}
	// a bulk triage through the form, then its audit entries, one per finding
	form := url.Values{"id": {fs[0].ID, fs[1].ID}, "status": {"investigating"}, "back": {"/findings"}}
	if w := tu.request("POST", "/findings/bulk", auth.RoleAnalyst, form, false); w.Code != http.StatusSeeOther {
		t.Fatalf("bulk triage: %d %s", w.Code, w.Body.String())
	}
	entries, _, _ := tu.st.ListAudit(ctx, store.AuditFilter{Action: "setFindingStatus"})
	if len(entries) != 2 || entries[0].Actor != "analyst-user" {
		t.Errorf("audit after bulk triage: %+v", entries)
	}
	// lint answers JSON with line numbers
	req := httptest.NewRequest("POST", "/rules/lint", strings.NewReader(`{"name":"x.yml","content":"title: x\nlogsource: {category: process_creation}\ndetection:\n  sel: {Image: a}\n  condition: nope\n"}`))
	req.Header.Set("X-CSRF-Token", tu.sessions[auth.RoleViewer].csrf)
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: tu.sessions[auth.RoleViewer].token})
	w := httptest.NewRecorder()
	tu.ui.Handler().ServeHTTP(w, req)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"ok":false`) || !strings.Contains(w.Body.String(), "x.yml:") {
		t.Errorf("lint: %d %s", w.Code, w.Body.String())
	}
}

func seedSmall(st store.Store) ([]string, error) { return seedQueueN(st, 5, 4) }

func TestLogin(t *testing.T) {
	tu := newTestUI(t, "")
	ctx := context.Background()
	hash, _ := auth.HashPassword("a-long-password")
	if err := tu.st.CreateUser(ctx, store.User{ID: event.NewID(), Username: "alice", PasswordHash: hash, Role: "analyst", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	page := tu.request("GET", "/login?next=/findings", "", nil, false)
	var loginCookie *http.Cookie
	for _, c := range page.Result().Cookies() {
		if c.Name == LoginCookie {
			loginCookie = c
		}
	}
	if page.Code != 200 || loginCookie == nil || !strings.Contains(page.Body.String(), `value="`+loginCookie.Value+`"`) {
		t.Fatalf("login page: %d, cookie %v", page.Code, loginCookie)
	}
	post := func(user, pw, csrf, ip string) *httptest.ResponseRecorder {
		form := url.Values{"username": {user}, "password": {pw}, "csrf": {csrf}, "next": {"/findings"}}
		req := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = ip + ":5555"
		req.AddCookie(&http.Cookie{Name: LoginCookie, Value: loginCookie.Value})
		w := httptest.NewRecorder()
		tu.ui.Handler().ServeHTTP(w, req)
		return w
	}
	if w := post("alice", "a-long-password", "forged", "10.0.0.1"); w.Code != http.StatusForbidden {
		t.Errorf("login without the form's token: %d", w.Code)
	}
	w := post("alice", "a-long-password", loginCookie.Value, "10.0.0.1")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/findings" {
		t.Fatalf("good login: %d %s", w.Code, w.Header().Get("Location"))
	}
	var sess *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == SessionCookie {
			sess = c
		}
	}
	if sess == nil || !sess.HttpOnly || !sess.Secure || sess.SameSite != http.SameSiteLaxMode || sess.Value == "" {
		t.Fatalf("session cookie %+v: want HttpOnly, Secure, SameSite=Lax", sess)
	}
	// the session works, for the UI and the API (changes need the CSRF header)
	req := httptest.NewRequest("GET", "/findings", nil)
	req.AddCookie(sess)
	rw := httptest.NewRecorder()
	tu.ui.Handler().ServeHTTP(rw, req)
	if rw.Code != 200 {
		t.Fatalf("page with the new session: %d", rw.Code)
	}
	apiReq := httptest.NewRequest("POST", "/api/v1/findings/triage", nil)
	apiReq.AddCookie(sess)
	if _, _, err := tu.ui.SessionAuth(apiReq); !errors.Is(err, auth.ErrUnauthorized) {
		t.Errorf("API change with a session and no CSRF header: %v", err)
	}
	apiReq = httptest.NewRequest("GET", "/api/v1/findings", nil)
	apiReq.AddCookie(sess)
	if p, ok, err := tu.ui.SessionAuth(apiReq); !ok || err != nil || p.Username != "alice" || p.Role != auth.RoleAnalyst {
		t.Errorf("API read with a session: %+v %v %v", p, ok, err)
	}
	// wrong passwords: limited per user name (and per address)
	for i := range MaxFailures {
		if w := post("alice", "wrong", loginCookie.Value, "10.0.0.2"); w.Code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d", i, w.Code)
		}
	}
	if w := post("alice", "a-long-password", loginCookie.Value, "10.0.0.3"); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Errorf("after %d failures: %d, want 429 with Retry-After even with the right password", MaxFailures, w.Code)
	}
	if w := post("bob", "x", loginCookie.Value, "10.0.0.2"); w.Code != http.StatusTooManyRequests {
		t.Errorf("same address, another name: %d, want 429", w.Code)
	}
	entries, _, _ := tu.st.ListAudit(ctx, store.AuditFilter{Action: "loginFailed"})
	if len(entries) != MaxFailures {
		t.Errorf("%d loginFailed audit entries, want %d", len(entries), MaxFailures)
	}
	// unknown user: the same answer as a wrong password
	if w := post("nobody", "x", loginCookie.Value, "10.0.0.9"); w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "Wrong user name or password") {
		t.Errorf("unknown user: %d", w.Code)
	}
}

func TestLoginLimiterWindow(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLoginLimiter(func() time.Time { return now })
	for range MaxFailures {
		l.failed("1.1.1.1", "Eve")
	}
	if l.blocked("2.2.2.2", "eve") <= 0 {
		t.Error("user name not blocked (case-insensitively)")
	}
	now = now.Add(FailureWindow)
	if l.blocked("1.1.1.1", "eve") != 0 {
		t.Error("still blocked after the window")
	}
}
