package server

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/server/api"
	"github.com/vigilhq/vigil/server/auth"
	"github.com/vigilhq/vigil/server/store"
	"github.com/vigilhq/vigil/server/ui"
)

// creds are a user's API token and browser session.
type creds struct{ userID, tokenID, token, session, csrf string }

// newUser adds a user of role with an API token and a signed-in browser session.
func newUser(t *testing.T, srv *Server, name string, role auth.Role) creds {
	t.Helper()
	ctx := context.Background()
	u := store.User{ID: event.NewID(), Username: name, Role: string(role), CreatedAt: time.Now()}
	if err := srv.Store().CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	cr := creds{userID: u.ID, tokenID: event.NewID(), token: "vgt_" + name + "-0123456789", session: "session-" + name, csrf: "csrf-" + name}
	if err := srv.Store().CreateAPIToken(ctx, store.APIToken{ID: cr.tokenID, UserID: u.ID, Name: name, Hash: auth.HashToken(cr.token), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := srv.wb.wb.CreateSession(ctx, store.Session{Hash: auth.HashToken(cr.session), UserID: u.ID, CSRF: cr.csrf, Method: "password",
		CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastSeen: now}); err != nil {
		t.Fatal(err)
	}
	return cr
}

func cookie(cr creds) string { return ui.SessionCookie + "=" + cr.session }

// TestRouterAuth walks every route the server serves, through its own handler: the API's route
// table and the web UI's pages and forms (which share the address).
//
// API routes: a user route refuses a missing or wrong token and an agent token (401), refuses
// every role below its own (403) and lets the others through, by API token and by browser
// session, and a state change by session needs the session's CSRF header; an agent route
// refuses no token, a user token and a wrong token; only a few named routes are public.
// UI routes: without a session a page goes to the sign-in form and a form is refused; a form
// without the session's CSRF token is refused even for an admin. (The UI's own test,
// TestRouteTable in server/ui, checks each page's role.)
func TestRouterAuth(t *testing.T) {
	updatesDir := t.TempDir() // so that the upgrade routes answer for real once let through
	if err := os.MkdirAll(filepath.Join(updatesDir, "metadata"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(updatesDir, "metadata", "x"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, c := testServer(t, func(c *Config) { c.UpdatesDir = updatesDir })
	a := enrollAgent(t, srv, c, "m-a")
	users := map[auth.Role]creds{}
	for _, role := range auth.Roles {
		users[role] = newUser(t, srv, "walk-"+string(role), role)
	}
	denied := func(status int) bool { return status == http.StatusUnauthorized || status == http.StatusForbidden }
	wildcard := regexp.MustCompile(`\{[^}]*\}`)
	fill := func(pattern string) string {
		pattern = strings.Replace(strings.TrimSuffix(pattern, "{$}"), "{path...}", "metadata/x", 1)
		return wildcard.ReplaceAllString(pattern, "x")
	}

	public := map[string]bool{"health": true, "login": true, "agentEnroll": true}
	// The authorization matrix, written out so that a route's role changes only on purpose (a
	// new route must be added here): viewers read and keep their own tokens, analysts triage,
	// admins change rules, enrollment and upgrades and read the audit log.
	v, an, ad := auth.RoleViewer, auth.RoleAnalyst, auth.RoleAdmin
	wantRole := map[string]auth.Role{
		"openapi": v, "whoami": v, "listTokens": v, "createToken": v, "revokeToken": v, "metrics": v,
		"listHosts": v, "getHost": v, "listHostEvents": v, "listFindings": v, "getFinding": v, "exportFindings": v,
		"listComments": v, "listSuppressions": v, "listRules": v, "getRule": v, "lintRule": v,
		"listPolicyVersions": v, "getPolicyVersion": v, "getUpgrade": v,
		"setFindingStatus": an, "triageFindings": an, "commentFinding": an, "createSuppression": an, "deleteSuppression": an,
		"createRule": ad, "updateRule": ad, "deleteRule": ad, "importRules": ad, "disableBuiltinRule": ad, "enableBuiltinRule": ad,
		"listEnrollSecrets": ad, "createEnrollSecret": ad, "revokeEnrollSecret": ad, "listAudit": ad, "setUpgrade": ad, "clearUpgrade": ad,
	}
	apiKeys := map[string]bool{}
	for _, rt := range srv.API().Routes() {
		apiKeys[rt.Key()] = true
		url := srv.LocalURL() + fill(rt.Pattern)
		switch rt.Auth {
		case api.AuthUser:
			if want, ok := wantRole[rt.Op]; !ok || rt.Role != want {
				t.Errorf("%s (%s) needs the %q role; the matrix says %q", rt.Key(), rt.Op, rt.Role, want)
			}
			delete(wantRole, rt.Op)
			for name, tok := range map[string]string{"no token": "", "wrong token": "vgt_wrong", "agent token": a.Token} {
				if r := do(t, c, rt.Method, url, tok, []byte("{}")); r.status != http.StatusUnauthorized {
					t.Errorf("%s with %s: %d, want 401", rt.Key(), name, r.status)
				}
			}
			if r := do(t, c, rt.Method, url, "", []byte("{}"), "Cookie", ui.SessionCookie+"=forged"); r.status != http.StatusUnauthorized {
				t.Errorf("%s with a forged session: %d, want 401", rt.Key(), r.status)
			}
			for _, role := range auth.Roles {
				cr := users[role]
				allowed := role.Allows(rt.Role)
				byToken := do(t, c, rt.Method, url, cr.token, []byte("{}"))
				bySession := do(t, c, rt.Method, url, "", []byte("{}"), "Cookie", cookie(cr), "X-CSRF-Token", cr.csrf)
				for how, r := range map[string]resp{"token": byToken, "session": bySession} {
					switch {
					case allowed && denied(r.status):
						t.Errorf("%s as %s (%s; the route needs %s): %d %s, want it let through", rt.Key(), role, how, rt.Role, r.status, r.body)
					case !allowed && r.status != http.StatusForbidden:
						t.Errorf("%s as %s (%s; the route needs %s): %d, want 403", rt.Key(), role, how, rt.Role, r.status)
					}
				}
				if rt.StateChanging() {
					if r := do(t, c, rt.Method, url, "", []byte("{}"), "Cookie", cookie(cr)); r.status != http.StatusUnauthorized {
						t.Errorf("%s as %s by session without the CSRF header: %d, want 401", rt.Key(), role, r.status)
					}
					if r := do(t, c, rt.Method, url, "", []byte("{}"), "Cookie", cookie(cr), "X-CSRF-Token", users[auth.RoleViewer].csrf+"x"); r.status != http.StatusUnauthorized {
						t.Errorf("%s as %s by session with another CSRF token: %d, want 401", rt.Key(), role, r.status)
					}
				}
			}
		case api.AuthAgent:
			if r := do(t, c, rt.Method, url, a.Token, []byte("{}")); denied(r.status) {
				t.Errorf("%s with the agent's token: %d %s, want it let through", rt.Key(), r.status, r.body)
			}
			for name, tok := range map[string]string{"no token": "", "admin token": adminToken, "wrong token": "vga_wrong"} {
				if r := do(t, c, rt.Method, url, tok, []byte("{}")); r.status != http.StatusUnauthorized {
					t.Errorf("%s with %s: %d, want 401", rt.Key(), name, r.status)
				}
			}
			if r := do(t, c, rt.Method, url, "", []byte("{}"), "Cookie", cookie(users[auth.RoleAdmin])); r.status != http.StatusUnauthorized {
				t.Errorf("%s with an admin's session: %d, want 401", rt.Key(), r.status)
			}
		case api.AuthEnroll:
			if r := do(t, c, rt.Method, url, adminToken, wire.EnrollRequest{EnrollSecret: adminToken, Host: wire.HostFacts{MachineID: "x", Hostname: "x"}}); r.status != http.StatusUnauthorized {
				t.Errorf("enroll with the admin token as secret: %d", r.status)
			}
			fallthrough
		default:
			if !public[rt.Op] {
				t.Errorf("%s (%s) is not authenticated by a token and not in the public allowlist", rt.Key(), rt.Op)
			}
		}
	}
	for op := range wantRole {
		t.Errorf("the matrix names %s, which is no user route of the server", op)
	}

	uiPublic := map[string]bool{"GET /static/": true, "GET /login": true, "POST /login": true, "GET /auth/oidc/login": true, "GET /auth/oidc/callback": true}
	pages := 0
	for _, p := range srv.wb.ui.Patterns() {
		if apiKeys[p] {
			t.Errorf("%s is both an API route and a UI route", p)
		}
		if uiPublic[p] {
			continue
		}
		pages++
		method, pattern, _ := strings.Cut(p, " ")
		url := srv.LocalURL() + fill(pattern)
		noRedirect := *c
		noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		if method == http.MethodGet {
			r := do(t, &noRedirect, method, url, "", nil)
			if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login?next=") {
				t.Errorf("%s without a session: %d %q, want 303 to the sign-in form", p, r.status, r.header.Get("Location"))
			}
			if r := do(t, &noRedirect, method, url, users[auth.RoleAdmin].token, nil); r.status != http.StatusSeeOther {
				t.Errorf("%s with an API token and no session: %d, want 303 to the sign-in form", p, r.status)
			}
			continue
		}
		form := []byte("a=b")
		if r := do(t, &noRedirect, method, url, "", form, "Content-Type", "application/x-www-form-urlencoded"); r.status != http.StatusUnauthorized {
			t.Errorf("%s without a session: %d, want 401", p, r.status)
		}
		if r := do(t, &noRedirect, method, url, "", form, "Content-Type", "application/x-www-form-urlencoded", "Cookie", cookie(users[auth.RoleAdmin])); r.status != http.StatusForbidden {
			t.Errorf("%s as admin without the CSRF token: %d, want 403", p, r.status)
		}
	}
	if pages < 30 {
		t.Fatalf("walked %d UI routes: the table is not the server's", pages)
	}
	if r := do(t, c, "GET", srv.LocalURL()+"/no/such/route", adminToken, nil); r.status != http.StatusNotFound {
		t.Errorf("unknown path: %d, want 404", r.status)
	}
}

// TestUIChangesReachCachedTokens: a token revoked in the web UI, and a user disabled or given
// another role there, take effect at once on the API of the same server, although it caches
// token checks.
func TestUIChangesReachCachedTokens(t *testing.T) {
	srv, c := testServer(t, nil)
	admin := newUser(t, srv, "ada", auth.RoleAdmin)
	carol := newUser(t, srv, "carol", auth.RoleAnalyst)
	whoami := func(cr creds) (int, string) {
		r := do(t, c, "GET", srv.LocalURL()+"/api/v1/auth/me", cr.token, nil)
		var p auth.Principal
		if r.status == http.StatusOK {
			r.decode(t, &p)
		}
		return r.status, string(p.Role)
	}
	form := func(path, body string) {
		t.Helper()
		noRedirect := *c
		noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		r := do(t, &noRedirect, "POST", srv.LocalURL()+path, "", []byte(body+"&csrf="+admin.csrf),
			"Content-Type", "application/x-www-form-urlencoded", "Cookie", cookie(admin))
		if r.status != http.StatusSeeOther {
			t.Fatalf("POST %s: %d %s", path, r.status, r.body)
		}
	}
	if st, role := whoami(carol); st != http.StatusOK || role != "analyst" { // now cached
		t.Fatalf("carol's token: %d %s", st, role)
	}
	form("/settings/users/"+carol.userID, "role=viewer")
	if st, role := whoami(carol); st != http.StatusOK || role != "viewer" {
		t.Errorf("carol's token after she became a viewer: %d %s, want the viewer role at once", st, role)
	}
	form("/settings/users/"+carol.userID, "role=viewer&disabled=on")
	if st, _ := whoami(carol); st != http.StatusUnauthorized {
		t.Errorf("carol's token after she was disabled: %d, want 401 at once", st)
	}
	if st, _ := whoami(admin); st != http.StatusOK {
		t.Fatalf("ada's token: %d", st)
	}
	form("/settings/tokens/"+admin.tokenID+"/revoke", "")
	if st, _ := whoami(admin); st != http.StatusUnauthorized {
		t.Errorf("a token revoked in the UI: %d, want 401 at once", st)
	}
}

// TestLoginLimitShared: password sign-ins through the API and through the web UI's form share
// one limit per user name and address: after ui.MaxFailures wrong passwords by the API, the
// right one is refused (429 with Retry-After) by the API and by the form alike, and each failure
// is in the audit log.
func TestLoginLimitShared(t *testing.T) {
	srv, c := testServer(t, nil)
	pw := srv.FirstStart().AdminPassword
	login := func(password string) resp {
		return do(t, c, "POST", srv.LocalURL()+"/api/v1/auth/login", "", map[string]string{"username": "admin", "password": password})
	}
	if r := login(pw); r.status != http.StatusOK {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	for i := range ui.MaxFailures {
		if r := login("wrong-password"); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d %s", i, r.status, r.body)
		}
	}
	if r := login(pw); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Errorf("the right password after %d wrong ones: %d %s, want 429 with Retry-After", ui.MaxFailures, r.status, r.body)
	}
	page := do(t, c, "GET", srv.LocalURL()+"/login", "", nil)
	var csrf string
	for _, ck := range (&http.Response{Header: page.header}).Cookies() {
		if ck.Name == ui.LoginCookie {
			csrf = ck.Value
		}
	}
	form := "username=admin&password=" + pw + "&csrf=" + csrf
	if r := do(t, c, "POST", srv.LocalURL()+"/login", "", []byte(form), "Content-Type", "application/x-www-form-urlencoded",
		"Cookie", ui.LoginCookie+"="+csrf); r.status != http.StatusTooManyRequests {
		t.Errorf("the sign-in form after %d wrong passwords by the API: %d, want 429", ui.MaxFailures, r.status)
	}
	entries, _, err := srv.Store().ListAudit(context.Background(), store.AuditFilter{Action: "loginFailed"})
	if err != nil || len(entries) != ui.MaxFailures || entries[0].Actor != "admin" {
		t.Errorf("loginFailed audit entries: %d %v, want %d by admin", len(entries), err, ui.MaxFailures)
	}
}

// TestAdminPasswordFileRemoved: once the first admin changes the password the first start wrote
// to the data directory, that file is removed (it would keep a stale secret on disk); a wrong
// current password changes nothing and keeps it.
func TestAdminPasswordFileRemoved(t *testing.T) {
	srv, c := testServer(t, nil)
	ctx := context.Background()
	pw := srv.FirstStart().AdminPassword
	file := filepath.Join(srv.cfg.DataDir, AdminPasswordFile)
	admin, err := srv.Store().UserByName(ctx, DefaultAdminUsername)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := srv.wb.wb.CreateSession(ctx, store.Session{Hash: auth.HashToken("session-first-admin"), UserID: admin.ID, CSRF: "csrf-first-admin",
		Method: "password", CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastSeen: now}); err != nil {
		t.Fatal(err)
	}
	noRedirect := *c
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	change := func(current string) {
		t.Helper()
		body := "current=" + url.QueryEscape(current) + "&new=a-new-password-of-some-length&csrf=csrf-first-admin"
		r := do(t, &noRedirect, "POST", srv.LocalURL()+"/settings/password", "", []byte(body),
			"Content-Type", "application/x-www-form-urlencoded", "Cookie", ui.SessionCookie+"=session-first-admin")
		if r.status != http.StatusSeeOther {
			t.Fatalf("change password: %d %s", r.status, r.body)
		}
	}
	change("not-the-password")
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("a refused change removed the password file: %v", err)
	}
	change(pw)
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("the password file after the admin changed the password: %v", err)
	}
}
