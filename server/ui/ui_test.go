package ui

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/server/auth"
	"github.com/vigilhq/vigil/server/policy"
	"github.com/vigilhq/vigil/server/store"
	"github.com/vigilhq/vigil/server/store/sqlstore"
	"github.com/vigilhq/vigil/server/triage"
)

// testUI is a UI over a fresh SQLite store, with one user per role signed in.
type testUI struct {
	ui       *UI
	st       *sqlstore.DB
	sessions map[auth.Role]sessionCookie
}

type sessionCookie struct{ token, csrf string }

func newTestUI(tb testing.TB, path string) *testUI {
	tb.Helper()
	ctx := context.Background()
	if path == "" {
		path = filepath.Join(tb.TempDir(), "vigil.db")
	}
	st, err := sqlstore.OpenSQLite(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	pol, err := policy.New(policy.Config{Store: st, Key: key})
	if err != nil {
		tb.Fatal(err)
	}
	u, err := New(Config{Store: st, Policy: pol, Triage: triage.New(st, nil, nil)})
	if err != nil {
		tb.Fatal(err)
	}
	tu := &testUI{ui: u, st: st, sessions: map[auth.Role]sessionCookie{}}
	for _, role := range auth.Roles {
		user := store.User{ID: event.NewID(), Username: string(role) + "-user", Role: string(role), CreatedAt: time.Now()}
		if err := st.CreateUser(ctx, user); err != nil {
			tb.Fatal(err)
		}
		tok, csrf := randomToken(), randomToken()
		now := time.Now().UTC()
		if err := st.CreateSession(ctx, store.Session{Hash: auth.HashToken(tok), UserID: user.ID, CSRF: csrf, Method: "password",
			CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastSeen: now}); err != nil {
			tb.Fatal(err)
		}
		tu.sessions[role] = sessionCookie{tok, csrf}
	}
	return tu
}

// request serves one request as role ("" for no session); form, when not nil, is posted with
// the session's CSRF token unless noCSRF.
func (tu *testUI) request(method, target string, role auth.Role, form url.Values, noCSRF bool) *httptest.ResponseRecorder {
	var body io.Reader
	if form != nil {
		if s, ok := tu.sessions[role]; ok && !noCSRF {
			form.Set("csrf", s.csrf)
		}
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if s, ok := tu.sessions[role]; ok {
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: s.token})
	}
	w := httptest.NewRecorder()
	tu.ui.Handler().ServeHTTP(w, req)
	return w
}

// BenchmarkQueuePage: the findings queue page, rendered whole (session check, the store's
// queue query and the template) over 100,000 findings on 10,000 hosts in SQLite, with the
// filters and paging an analyst uses. The time per op is the server's time for the page.
func BenchmarkQueuePage(b *testing.B) {
	tu := newTestUI(b, "")
	start := time.Now()
	if _, err := seedQueue(tu.st); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded 100,000 findings on 10,000 hosts in %v", time.Since(start).Round(time.Second))
	for _, bc := range []struct{ name, query string }{
		{"open", "/findings"},
		{"high+critical-7d", "/findings?level=high&level=critical&range=7d"},
		{"page-40", "/findings?page=40"},
		{"host-search", "/findings?host=laptop-012"},
		{"rule-30d-any-status", "/findings?rule=vigil-rule-07&range=30d&status=new&status=investigating&status=resolved&status=false_positive"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tu.request("GET", bc.query, auth.RoleAnalyst, nil, false) // warm the database's page cache
			for b.Loop() {
				w := tu.request("GET", bc.query, auth.RoleAnalyst, nil, false)
				if w.Code != 200 || !strings.Contains(w.Body.String(), `class="case"`) {
					b.Fatalf("%s: %d", bc.query, w.Code)
				}
			}
		})
	}
}
