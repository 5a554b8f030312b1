package ui

import (
	"context"
	"encoding/json"
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
// CSRF token is refused; each route's role is the written matrix's.
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
	// The authorization matrix, written out so that a page's role changes only on purpose (a new
	// page or form must be added here): viewers read and keep their own account, analysts
	// triage, admins change rules, users, enrollment and settings and read the audit log.
	v, an, ad := auth.RoleViewer, auth.RoleAnalyst, auth.RoleAdmin
	want := map[string]auth.Role{
		"GET /{$}": v, "POST /logout": v, "GET /search": v, "GET /findings": v, "GET /findings/{id}": v,
		"GET /hosts": v, "GET /hosts/{id}": v, "GET /hosts/{id}/timeline": v, "GET /fleet": v,
		"GET /rules": v, "POST /rules/lint": v, "POST /rules/test": v, "GET /rules/builtin/{id}": v, "GET /rules/{id}": v,
		"GET /settings": v, "GET /settings/{tab}": v, "POST /settings/password": v, "POST /settings/tokens": v, "POST /settings/tokens/{id}/revoke": v,
		"POST /findings/bulk": an, "POST /findings/{id}/triage": an, "POST /suppressions": an, "POST /suppressions/{id}/delete": an,
		"GET /rules/new": ad, "POST /rules/new": ad, "POST /rules/builtin/{id}/disable": ad, "POST /rules/builtin/{id}/enable": ad,
		"POST /rules/{id}": ad, "POST /rules/{id}/delete": ad, "GET /audit": ad,
		"POST /settings/users": ad, "POST /settings/users/{id}": ad, "POST /settings/enroll": ad, "POST /settings/enroll/{id}/revoke": ad,
		"POST /settings/networks": ad, "POST /settings/retention": ad, "POST /settings/destinations": ad,
		"POST /settings/destinations/{id}/delete": ad, "POST /settings/destinations/{id}/test": ad,
	}
	for _, rt := range tu.ui.routes {
		key := rt.method + " " + rt.pattern
		if r, ok := want[key]; !ok || r != rt.role {
			t.Errorf("%s needs the %q role; the matrix says %q", key, rt.role, r)
		}
		delete(want, key)
	}
	for key := range want {
		t.Errorf("the matrix names %s, which is no route of the UI", key)
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

func TestDestinationsForm(t *testing.T) {
	tu := newTestUI(t, "")
	got := make(chan string, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 4096)
		n, _ := r.Body.Read(b)
		got <- string(b[:n])
	}))
	defer hook.Close()
	form := url.Values{"name": {"slack-soc"}, "type": {"webhook"}, "format": {"slack"}, "url": {hook.URL}, "enabled": {"1"}, "min_level": {"high"}, "rules": {"vigil-kvm-*, vigil-farm-*"}}
	if w := tu.request("POST", "/settings/destinations", auth.RoleAdmin, form, false); w.Code != http.StatusSeeOther {
		t.Fatalf("save: %d %s", w.Code, w.Body.String())
	}
	cfgs, err := Destinations(context.Background(), tu.st)
	if err != nil || len(cfgs) != 1 || cfgs[0].Format != "slack" || cfgs[0].Filter.MinLevel != "high" || len(cfgs[0].Filter.Rules) != 2 {
		t.Fatalf("saved: %+v %v", cfgs, err)
	}
	if w := tu.request("POST", "/settings/destinations/slack-soc/test", auth.RoleAdmin, url.Values{}, false); w.Code != http.StatusSeeOther {
		t.Fatalf("test: %d", w.Code)
	}
	if body := <-got; !strings.Contains(body, `"text"`) || !strings.Contains(body, "Vigil test alert") {
		t.Errorf("test alert body %s", body)
	}
	if w := tu.request("GET", "/settings/destinations", auth.RoleAdmin, nil, false); !strings.Contains(w.Body.String(), "slack-soc") || !strings.Contains(w.Body.String(), "high and above") {
		t.Errorf("destinations tab does not list it")
	}
	bad := url.Values{"name": {"x"}, "type": {"syslog"}, "network": {"udp"}, "address": {"no-port"}}
	if w := tu.request("POST", "/settings/destinations", auth.RoleAdmin, bad, false); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "address") {
		t.Errorf("invalid destination: %d", w.Code)
	}
	if w := tu.request("POST", "/settings/destinations/slack-soc/delete", auth.RoleAdmin, url.Values{}, false); w.Code != http.StatusSeeOther {
		t.Fatalf("delete: %d", w.Code)
	}
	if cfgs, _ := Destinations(context.Background(), tu.st); len(cfgs) != 0 {
		t.Errorf("after delete: %+v", cfgs)
	}
	entries, _, _ := tu.st.ListAudit(context.Background(), store.AuditFilter{Target: "slack-soc"})
	if len(entries) != 3 {
		t.Errorf("%d audit entries for the destination, want 3 (save, test, delete)", len(entries))
	}
}

func TestRulesForms(t *testing.T) {
	tu := newTestUI(t, "")
	ctx := context.Background()
	rule := "title: Corp VNC\nid: 5a0f4e0e-7d55-4d6a-9a8b-2f0f7c1d1e01\nstatus: experimental\nauthor: alice\nlogsource:\n  category: process_creation\n  product: linux\ndetection:\n  sel:\n    Image|endswith: /x11vnc\n  condition: sel\nlevel: high\n"
	w := tu.request("POST", "/rules/new", auth.RoleAdmin, url.Values{"name": {"corp_vnc.yml"}, "content": {rule}, "comment": {"first"}}, false)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("save: %d %s", w.Code, w.Body.String())
	}
	if v, err := tu.st.CurrentPolicyVersion(ctx); err != nil || v != 1 {
		t.Fatalf("policy version after saving: %d %v", v, err)
	}
	// a file that does not load is refused with its line, nothing rolled out
	w = tu.request("POST", "/rules/new", auth.RoleAdmin, url.Values{"name": {"broken.yml"}, "content": {"title: x\ndetection:\n  condition: nope\n"}}, false)
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "broken.yml:") || !strings.Contains(w.Body.String(), "Nothing was rolled out") {
		t.Errorf("broken rule: %d", w.Code)
	}
	if v, _ := tu.st.CurrentPolicyVersion(ctx); v != 1 {
		t.Errorf("a refused rule published version %d", v)
	}
	// an analyst may not change rules
	if w := tu.request("POST", "/rules/new", auth.RoleAnalyst, url.Values{"name": {"x.yml"}, "content": {rule}}, false); w.Code != http.StatusForbidden {
		t.Errorf("analyst saving a rule: %d", w.Code)
	}
	// a built-in rule off and on again, each a new version
	id := "138e105a-88e3-469b-9820-eda109d00630"
	if w := tu.request("POST", "/rules/builtin/"+id+"/disable", auth.RoleAdmin, url.Values{}, false); w.Code != http.StatusSeeOther {
		t.Fatalf("disable: %d %s", w.Code, w.Body.String())
	}
	if d, _ := tu.st.DisabledBuiltins(ctx); len(d) != 1 || d[0] != id {
		t.Errorf("disabled: %v", d)
	}
	if w := tu.request("GET", "/rules/builtin/"+id, auth.RoleViewer, nil, false); !strings.Contains(w.Body.String(), "disabled") {
		t.Errorf("built-in rule page does not say it is disabled")
	}
	if v, _ := tu.st.CurrentPolicyVersion(ctx); v != 2 {
		t.Errorf("version after disabling: %d", v)
	}
	// test against sample events
	req := httptest.NewRequest("POST", "/rules/test", strings.NewReader(`{"content": `+jsonString(rule)+`, "events": `+jsonString(sampleEvents+"\n"+`{"id":"s2","time":"2026-12-01T10:00:01Z","category":"process_creation","product":"linux","fields":{"Image":"/usr/bin/ls"}}`)+`}`))
	req.Header.Set("X-CSRF-Token", tu.sessions[auth.RoleViewer].csrf)
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: tu.sessions[auth.RoleViewer].token})
	rw := httptest.NewRecorder()
	tu.ui.Handler().ServeHTTP(rw, req)
	if !strings.Contains(rw.Body.String(), "2 events, 1 match") || !strings.Contains(rw.Body.String(), "5a0f4e0e") {
		t.Errorf("rule test: %s", rw.Body.String())
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
