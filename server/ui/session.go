package ui

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/server/auth"
	"github.com/vigilhq/vigil/server/auth/oidc"
	"github.com/vigilhq/vigil/server/store"
)

// Cookies and lifetimes of sessions.
const (
	SessionCookie = "vigil_session"
	// LoginCookie carries the login form's CSRF token (double submit: cookie and form field).
	LoginCookie = "vigil_login"
	// SessionIdle ends a session unused this long; SessionMax ends any session.
	SessionIdle = 12 * time.Hour
	SessionMax  = 7 * 24 * time.Hour
	// touchEvery bounds how often a session's activity is written.
	touchEvery = 5 * time.Minute
)

func randomToken() string { return rand.Text() + rand.Text() }

// session returns the request's session and user, refreshing the session's expiry now and
// then; ok is false without a valid session (or for a disabled user).
func (u *UI) session(w http.ResponseWriter, r *http.Request) (store.Session, store.User, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return store.Session{}, store.User{}, false
	}
	now := u.cfg.Now().UTC()
	s, user, err := u.st.SessionByHash(r.Context(), auth.HashToken(c.Value), now)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			u.log.Error("session lookup failed", "error", err)
		}
		return s, user, false
	}
	if user.Disabled {
		return s, user, false
	}
	if now.Sub(s.LastSeen) > touchEvery {
		exp := now.Add(SessionIdle)
		if limit := s.CreatedAt.Add(SessionMax); limit.Before(exp) {
			exp = limit
		}
		if err := u.st.TouchSession(r.Context(), s.Hash, now, exp); err == nil {
			http.SetCookie(w, u.cookie(SessionCookie, c.Value, int(exp.Sub(now).Seconds())))
		}
	}
	return s, user, true
}

// SessionAuth authenticates API requests by the UI's session cookie, so that a signed-in
// browser can use the API too; a request that changes state must carry the session's CSRF
// token in X-CSRF-Token. It fits api.API.AddUserAuthenticator.
func (u *UI) SessionAuth(r *http.Request) (auth.Principal, bool, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return auth.Principal{}, false, nil
	}
	s, user, err := u.st.SessionByHash(r.Context(), auth.HashToken(c.Value), u.cfg.Now().UTC())
	if errors.Is(err, store.ErrNotFound) || (err == nil && user.Disabled) {
		return auth.Principal{}, false, auth.ErrUnauthorized
	}
	if err != nil {
		return auth.Principal{}, false, fmt.Errorf("session: %w", err)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		if tok := r.Header.Get("X-CSRF-Token"); tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(s.CSRF)) != 1 {
			return auth.Principal{}, false, auth.ErrUnauthorized
		}
	}
	return auth.Principal{UserID: user.ID, Username: user.Username, Role: auth.Role(user.Role)}, true, nil
}

// startSession signs user in: a new session, its cookie, and the audit entry.
func (u *UI) startSession(w http.ResponseWriter, r *http.Request, user store.User, method string) error {
	tok := randomToken()
	now := u.cfg.Now().UTC()
	s := store.Session{Hash: auth.HashToken(tok), UserID: user.ID, CSRF: randomToken(), Method: method, Remote: u.cfg.ClientIP(r),
		CreatedAt: now, ExpiresAt: now.Add(SessionIdle), LastSeen: now}
	if err := u.st.CreateSession(r.Context(), s); err != nil {
		return err
	}
	http.SetCookie(w, u.cookie(SessionCookie, tok, int(SessionIdle.Seconds())))
	u.auditAs(r, user.Username, "login", user.ID, map[string]string{"method": method})
	return nil
}

func (u *UI) auditAs(r *http.Request, actor, action, target string, details any) {
	c := &reqCtx{u: u, r: r, user: store.User{Username: actor}}
	c.audit(action, target, details)
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := u.session(w, r); ok {
		http.Redirect(w, r, oidc.LocalPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	u.renderLogin(w, r, http.StatusOK, r.URL.Query().Get("next"), "", "")
}

func (u *UI) renderLogin(w http.ResponseWriter, r *http.Request, code int, next, username, msg string) {
	tok := randomToken()
	http.SetCookie(w, &http.Cookie{Name: LoginCookie, Value: tok, Path: "/login", MaxAge: 3600, HttpOnly: true,
		Secure: !u.cfg.InsecureCookies, SameSite: http.SameSiteStrictMode})
	v := loginView{CSRF: tok, Next: oidc.LocalPath(next), Username: username, Error: msg}
	if u.cfg.OIDC != nil {
		v.SSO = u.cfg.OIDC.Name()
	}
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'")
	if err := u.r.execute(w, code, u.r.login, "login", v); err != nil {
		u.log.Error("render login", "error", err)
	}
}

// login checks a user name and password. Failures are counted per client address and per user
// name; past the limit the form answers 429 without checking, so guessing passwords is slow.
func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	if err := readForm(w, r, MaxLoginBytes); err != nil {
		u.formRefused(w, r, nil, err)
		return
	}
	username := strings.TrimSpace(r.PostFormValue("username"))
	next := r.PostFormValue("next")
	c, err := r.Cookie(LoginCookie)
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		u.renderLogin(w, r, http.StatusForbidden, next, username, "The sign-in form expired. Try again.")
		return
	}
	guard := u.LoginGuard()
	if wait := guard.Blocked(r, username); wait > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		u.renderLogin(w, r, http.StatusTooManyRequests, next, username,
			fmt.Sprintf("Too many failed sign-ins. Try again in %d minutes.", int(wait.Minutes())+1))
		return
	}
	user, err := u.st.UserByName(r.Context(), username)
	ok := false
	if err == nil && user.PasswordHash != "" && !user.Disabled {
		ok, _ = auth.VerifyPassword(user.PasswordHash, r.PostFormValue("password"))
	} else {
		// spend the same time as a real check, so a wrong name and a wrong password look alike
		_, _ = auth.VerifyPassword(dummyHash(), r.PostFormValue("password"))
	}
	if !ok {
		guard.Failed(r, username)
		u.renderLogin(w, r, http.StatusUnauthorized, next, username, "Wrong user name or password.")
		return
	}
	guard.Succeeded(r, username)
	if err := u.startSession(w, r, user, "password"); err != nil {
		u.log.Error("create session", "error", err)
		u.renderLogin(w, r, http.StatusInternalServerError, next, username, "Signing in failed; see the server log.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: LoginCookie, Value: "", Path: "/login", MaxAge: -1})
	http.Redirect(w, r, oidc.LocalPath(next), http.StatusSeeOther)
}

// LoginGuard is the limit on password sign-ins, by the form and by the API alike: failures are
// counted per address and per user name, in the metrics and the audit log (loginFailed).
func (u *UI) LoginGuard() LoginGuard { return LoginGuard{u} }

// LoginGuard is UI.LoginGuard's; it fits api.LoginGuard.
type LoginGuard struct{ u *UI }

// Blocked returns how long sign-ins for username from r's address stay refused.
func (g LoginGuard) Blocked(r *http.Request, username string) time.Duration {
	wait := g.u.logins.blocked(g.u.cfg.ClientIP(r), username)
	if wait > 0 {
		g.u.cfg.Metrics.LoginFailed()
	}
	return wait
}

// Failed records a wrong user name or password.
func (g LoginGuard) Failed(r *http.Request, username string) {
	g.u.logins.failed(g.u.cfg.ClientIP(r), username)
	g.u.cfg.Metrics.LoginFailed()
	g.u.auditAs(r, username, "loginFailed", "", nil)
}

// Succeeded clears the user name's failures.
func (g LoginGuard) Succeeded(r *http.Request, username string) {
	g.u.logins.succeed(g.u.cfg.ClientIP(r), username)
}

var (
	dummyOnce sync.Once
	dummy     string
)

func dummyHash() string {
	dummyOnce.Do(func() { dummy, _ = auth.HashPassword(randomToken()) })
	return dummy
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := u.st.DeleteSession(r.Context(), c.sess.Hash); err != nil {
		return err
	}
	c.audit("logout", c.user.ID, nil)
	http.SetCookie(w, u.cookie(SessionCookie, "", -1))
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// oidcCallback finishes a single sign-on: the user is created on first sign-in with the role
// the provider's groups give, and takes that role again on each sign-in.
func (u *UI) oidcCallback(w http.ResponseWriter, r *http.Request) {
	id, next, err := u.cfg.OIDC.Finish(w, r)
	if err != nil {
		u.log.Warn("single sign-on refused", "error", err)
		u.cfg.Metrics.LoginFailed()
		u.renderLogin(w, r, http.StatusUnauthorized, "/", "", "Single sign-on failed: "+err.Error())
		return
	}
	user, err := u.ssoUser(r.Context(), id)
	if err != nil {
		u.log.Error("single sign-on user", "error", err)
		u.renderLogin(w, r, http.StatusInternalServerError, "/", "", "Single sign-on failed; see the server log.")
		return
	}
	if user.Disabled {
		u.renderLogin(w, r, http.StatusForbidden, "/", "", "Your account is disabled.")
		return
	}
	if err := u.startSession(w, r, user, "oidc"); err != nil {
		u.log.Error("create session", "error", err)
		u.renderLogin(w, r, http.StatusInternalServerError, "/", "", "Signing in failed; see the server log.")
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (u *UI) ssoUser(ctx context.Context, id oidc.Identity) (store.User, error) {
	user, err := u.st.UserByName(ctx, id.Username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		user = store.User{ID: event.NewID(), Username: id.Username, Role: id.Role, CreatedAt: u.cfg.Now().UTC()}
		if err := u.st.CreateUser(ctx, user); err != nil {
			return user, err
		}
		return user, nil
	case err != nil:
		return user, err
	}
	if user.Role != id.Role {
		user.Role = id.Role
		if err := u.st.UpdateUser(ctx, user); err != nil {
			return user, err
		}
	}
	return user, nil
}

// loginLimiter counts failed sign-ins per client address and per user name.
type loginLimiter struct {
	now  func() time.Time
	mu   sync.Mutex
	fail map[string]*failures
}

type failures struct {
	n     int
	first time.Time
}

// Login limits: MaxFailures failures within FailureWindow lock the address or the user name
// out for what remains of the window.
const (
	MaxFailures   = 5
	FailureWindow = 15 * time.Minute
)

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{now: now, fail: map[string]*failures{}}
}

func (l *loginLimiter) keys(ip, user string) []string {
	return []string{"ip:" + ip, "user:" + strings.ToLower(user)}
}

func (l *loginLimiter) blocked(ip, user string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var wait time.Duration
	for _, k := range l.keys(ip, user) {
		f := l.fail[k]
		if f == nil {
			continue
		}
		if now.Sub(f.first) >= FailureWindow {
			delete(l.fail, k)
			continue
		}
		if f.n >= MaxFailures {
			wait = max(wait, f.first.Add(FailureWindow).Sub(now))
		}
	}
	return wait
}

func (l *loginLimiter) failed(ip, user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.fail) > 100000 { // bounded memory under a spray of names: drop the oldest half
		for k, f := range l.fail {
			if now.Sub(f.first) > FailureWindow/2 {
				delete(l.fail, k)
			}
		}
	}
	for _, k := range l.keys(ip, user) {
		f := l.fail[k]
		if f == nil || now.Sub(f.first) >= FailureWindow {
			f = &failures{first: now}
			l.fail[k] = f
		}
		f.n++
	}
}

func (l *loginLimiter) succeed(ip, user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fail, "user:"+strings.ToLower(user))
}
