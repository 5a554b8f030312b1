package server

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/server/auth/oidc/oidctest"
	"github.com/vigilhq/vigil/server/store"
)

// TestOIDCSignIn signs in to the web UI through an OIDC provider the test starts: the user is
// created with the role its groups give, lands on the page it asked for, and signs in again
// with the role the provider gives now.
func TestOIDCSignIn(t *testing.T) {
	p := oidctest.New(t, "set below")
	srv, c := testServer(t, func(cfg *Config) {
		cfg.OIDC = OIDCConfig{Issuer: p.URL, ClientID: p.ClientID, ClientSecret: p.ClientSecret, Name: "Test IdP",
			AdminGroups: []string{"secops-admins"}, AnalystGroups: []string{"secops"}}
	})
	p.RedirectURL = srv.URL() + "/auth/oidc/callback"
	jar, _ := cookiejar.New(nil)
	c.Jar = jar
	get := func(path string) (int, string, string) {
		t.Helper()
		resp, err := c.Get(srv.LocalURL() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Request.URL.Path, string(b)
	}
	if code, _, body := get("/login"); code != 200 || !strings.Contains(body, "Sign in with Test IdP") {
		t.Fatalf("login page: %d, SSO button missing", code)
	}
	p.SetUser(oidctest.User{Subject: "okta-123", Username: "dana", Email: "dana@example.com", Groups: []string{"staff", "secops"}})
	code, path, body := get("/auth/oidc/login?next=/findings")
	if code != 200 || path != "/findings" || !strings.Contains(body, "<b>dana</b>") {
		t.Fatalf("after SSO: %d at %s", code, path)
	}
	u, err := srv.Store().UserByName(t.Context(), "dana")
	if err != nil || u.Role != "analyst" || u.PasswordHash != "" {
		t.Fatalf("SSO user: %+v %v", u, err)
	}
	entries, _, _ := srv.Store().ListAudit(t.Context(), store.AuditFilter{Action: "login", Actor: "dana"})
	if len(entries) != 1 || !strings.Contains(string(entries[0].Details), "oidc") {
		t.Errorf("audit of the SSO login: %+v", entries)
	}
	// promoted in the provider: admin at the next sign-in
	jar2, _ := cookiejar.New(nil)
	c.Jar = jar2
	p.SetUser(oidctest.User{Subject: "okta-123", Username: "dana", Groups: []string{"secops-admins"}})
	if code, path, _ := get("/auth/oidc/login?next=/settings/users"); code != 200 || path != "/settings/users" {
		t.Fatalf("admin page after promotion: %d at %s", code, path)
	}
	if u, _ := srv.Store().UserByName(t.Context(), "dana"); u.Role != "admin" {
		t.Errorf("role after promotion: %s", u.Role)
	}
	// a callback this browser did not start is refused
	c.Jar, _ = cookiejar.New(nil)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if code, _, _ := get("/auth/oidc/callback?code=x&state=y"); code != http.StatusUnauthorized {
		t.Errorf("forged callback: %d, want 401", code)
	}
}
