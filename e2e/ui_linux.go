package e2e

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// UI is a signed-in web UI session of the admin account (what an admin does in a browser,
// as plain HTTP requests: the form's CSRF token, the session cookie).
type UI struct {
	srv    *Server
	client *http.Client
	csrf   string
}

var (
	formCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	metaCSRF = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)
)

// SignIn signs in to the web UI as the admin.
func (s *Server) SignIn(t testing.TB) *UI {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	u := &UI{srv: s, client: &http.Client{Jar: jar, Transport: s.client.Transport, Timeout: s.client.Timeout}}
	page := u.read(t, http.MethodGet, "/login", nil)
	m := formCSRF.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the login form:\n%s", page)
	}
	u.read(t, http.MethodPost, "/login", url.Values{"username": {"admin"}, "password": {AdminPassword}, "csrf": {m[1]}, "next": {"/settings/destinations"}})
	page = u.read(t, http.MethodGet, "/settings/destinations", nil)
	if m = metaCSRF.FindStringSubmatch(page); m == nil {
		t.Fatalf("not signed in: no session CSRF token on the settings page:\n%s", LastLines(page, 20))
	}
	u.csrf = m[1]
	return u
}

// AddDestination saves an alert destination with the settings page's form (fields as the
// form names them: name, type, enabled, url, network, address, format, min_level, rules...).
func (u *UI) AddDestination(t testing.TB, form url.Values) {
	t.Helper()
	form.Set("csrf", u.csrf)
	page := u.read(t, http.MethodPost, "/settings/destinations", form)
	if !strings.Contains(page, "Destination "+form.Get("name")+" saved") {
		t.Fatalf("destination %s not saved:\n%s", form.Get("name"), LastLines(page, 30))
	}
}

// read does a request (a form POST when form is not nil), following redirects, and returns the
// page; a status other than 200 fails the test.
func (u *UI) read(t testing.TB, method, path string, form url.Values) string {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := u.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d\n%s", method, path, resp.StatusCode, LastLines(string(b), 20))
	}
	return string(b)
}
