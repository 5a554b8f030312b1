package ui

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/server/auth"
	"github.com/vigilhq/vigil/server/auth/oidc"
	"github.com/vigilhq/vigil/server/forward"
	"github.com/vigilhq/vigil/server/metrics"
	"github.com/vigilhq/vigil/server/policy"
	"github.com/vigilhq/vigil/server/store"
	"github.com/vigilhq/vigil/server/triage"
)

// Store is what the UI reads and writes.
type Store interface {
	store.Store
	store.Workbench
}

// Config configures the UI.
type Config struct {
	Store   Store
	Policy  *policy.Service
	Triage  *triage.Service
	Forward *forward.Dispatcher // nil: no alert destinations
	Metrics *metrics.Metrics    // nil: no metrics
	OIDC    *oidc.RP            // nil: no single sign-on
	Logger  hclog.Logger
	// CheckinInterval is the agents' check-in interval; three missed intervals is offline.
	CheckinInterval time.Duration
	// ClientIP returns a request's client address (default: the connection's).
	ClientIP func(r *http.Request) string
	// InsecureCookies leaves the Secure flag off the cookies, for plain HTTP on loopback
	// (browsers keep Secure cookies of http://localhost, but not of every loopback name).
	InsecureCookies bool
	// ApplyOffice and ApplyRetention put edited settings in force (nil: stored only).
	ApplyOffice    func(store.OfficeNetworks) error
	ApplyRetention func(map[string]int) error
	// Retention is the retention in force when none was saved.
	Retention map[string]int
	// ForgetTokens drops the API tokens matching from the server's token cache, so that a
	// token revoked, or a user disabled or given another role, is refused at once (nil: none).
	ForgetTokens func(match func(auth.Principal) bool)
	// PasswordChanged is told of a user who changed their own password (nil: nobody), so the
	// server can remove the first start's password file once the admin no longer uses it.
	PasswordChanged func(user store.User)
	Now             func() time.Time
}

// UI is the web UI's handler.
type UI struct {
	cfg    Config
	st     Store
	log    hclog.Logger
	r      *renderer
	logins *loginLimiter
	routes []route
	mux    *http.ServeMux

	newMu    sync.Mutex
	newCount int
	newAt    time.Time
}

// newCountFor bounds how stale the sidebar's count of new findings may be.
const newCountFor = 5 * time.Second

// countNew is the number of new findings, read from the store at most every newCountFor.
func (u *UI) countNew(ctx context.Context) (int, error) {
	u.newMu.Lock()
	defer u.newMu.Unlock()
	if now := u.cfg.Now(); now.Sub(u.newAt) >= newCountFor {
		n, err := u.st.CountNew(ctx)
		if err != nil {
			return 0, err
		}
		u.newCount, u.newAt = n, now
	}
	return u.newCount, nil
}

// New prepares the UI.
func New(cfg Config) (*UI, error) {
	if cfg.Store == nil || cfg.Policy == nil || cfg.Triage == nil {
		return nil, errors.New("ui: store, policy and triage are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CheckinInterval <= 0 {
		cfg.CheckinInterval = wire.DefaultCheckinInterval
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = func(r *http.Request) string {
			host := r.RemoteAddr
			if i := strings.LastIndexByte(host, ':'); i > 0 {
				host = strings.Trim(host[:i], "[]")
			}
			return host
		}
	}
	rd, err := newRenderer(cfg.Now)
	if err != nil {
		return nil, err
	}
	u := &UI{cfg: cfg, st: cfg.Store, log: cfg.Logger.Named("ui"), r: rd, logins: newLoginLimiter(cfg.Now)}
	u.routes = u.table()
	u.mux = http.NewServeMux()
	u.mux.Handle("GET /static/", staticHandler())
	u.mux.HandleFunc("GET /login", u.loginPage)
	u.mux.HandleFunc("POST /login", u.login)
	if cfg.OIDC != nil {
		u.mux.HandleFunc("GET /auth/oidc/login", func(w http.ResponseWriter, r *http.Request) {
			cfg.OIDC.Start(w, r, r.URL.Query().Get("next"))
		})
		u.mux.HandleFunc("GET /auth/oidc/callback", u.oidcCallback)
	}
	for _, rt := range u.routes {
		u.mux.Handle(rt.method+" "+rt.pattern, u.wrap(rt))
	}
	return u, nil
}

// Handler serves the UI's pages, forms and static files.
func (u *UI) Handler() http.Handler { return u.mux }

// Patterns lists the UI's routes ("GET /findings/{id}"...), so that a server can send those
// paths to it.
func (u *UI) Patterns() []string {
	out := []string{"GET /static/", "GET /login", "POST /login"}
	if u.cfg.OIDC != nil {
		out = append(out, "GET /auth/oidc/login", "GET /auth/oidc/callback")
	}
	for _, rt := range u.routes {
		out = append(out, rt.method+" "+rt.pattern)
	}
	return out
}

// route is one page or form of the UI.
type route struct {
	method, pattern string
	// op names a form's action in the audit log (the API's operation name where one exists).
	op   string
	role auth.Role
	h    func(w http.ResponseWriter, r *http.Request, c *reqCtx) error
}

// reqCtx is what a handler knows of the signed-in user.
type reqCtx struct {
	u       *UI
	r       *http.Request
	user    store.User
	role    auth.Role
	sess    store.Session
	flash   *Flash
	audited bool
	op      string
	// newCount is the number of new findings when the handler already knows it (-1: unknown).
	newCount int
}

func (c *reqCtx) base(nav, title string, crumbs ...Crumb) Base {
	b := Base{Title: title, Nav: nav, User: &Viewer{ID: c.user.ID, Name: c.user.Username, Role: string(c.role)}, CSRF: c.sess.CSRF,
		Flash: c.flash, Crumbs: crumbs, CanTriage: c.role.Allows(auth.RoleAnalyst), IsAdmin: c.role.Allows(auth.RoleAdmin)}
	if len(b.Crumbs) == 0 {
		b.Crumbs = []Crumb{{Name: title}}
	}
	if c.newCount >= 0 {
		b.NewCount = c.newCount
	} else if n, err := c.u.countNew(c.r.Context()); err == nil {
		b.NewCount = n
	}
	return b
}

// audit records a state change made through the UI, under the same action names as the API.
func (c *reqCtx) audit(action, target string, details any) {
	c.audited = true
	var raw json.RawMessage
	if details != nil {
		raw, _ = json.Marshal(details)
	}
	err := c.u.st.AppendAudit(context.WithoutCancel(c.r.Context()), store.AuditEntry{Time: c.u.cfg.Now().UTC(), Actor: c.user.Username,
		Action: action, Target: target, Remote: c.u.cfg.ClientIP(c.r), Details: raw})
	if err != nil {
		c.u.log.Error("audit log write failed", "action", action, "actor", c.user.Username, "error", err)
	}
}

// redirect sends the browser on after a form, with a message for the next page.
func (c *reqCtx) redirect(w http.ResponseWriter, to, kind, text string) error {
	if text != "" {
		http.SetCookie(w, c.u.cookie(flashCookie, url.QueryEscape(kind+":"+text), 60))
	}
	http.Redirect(w, c.r, oidc.LocalPath(to), http.StatusSeeOther)
	return nil
}

const flashCookie = "vigil_flash"

// wrap authenticates (a session, else to the login page), authorizes (the route's role),
// checks the CSRF token of forms, runs the handler and audits forms that changed state.
func (u *UI) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() { u.cfg.Metrics.ObserveHTTP("ui:"+rt.pattern, r.Method, sw.code(), time.Since(start)) }()
		w = sw
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'")
		w.Header().Set("Referrer-Policy", "same-origin")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		sess, user, ok := u.session(w, r)
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			u.errorPage(w, r, nil, http.StatusUnauthorized, "Signed out", "Your session ended. Sign in again and repeat the action.")
			return
		}
		c := &reqCtx{u: u, r: r, user: user, role: auth.Role(user.Role), sess: sess, op: rt.op, newCount: -1}
		if fc, err := r.Cookie(flashCookie); err == nil {
			if v, err := url.QueryUnescape(fc.Value); err == nil {
				if kind, text, ok := strings.Cut(v, ":"); ok && (kind == "ok" || kind == "err") {
					c.flash = &Flash{Kind: kind, Text: text}
				}
			}
			http.SetCookie(w, u.cookie(flashCookie, "", -1))
		}
		if !c.role.Allows(rt.role) {
			u.errorPage(w, r, c, http.StatusForbidden, "Not allowed", fmt.Sprintf("This needs the %s role; you are %s.", rt.role, c.role))
			return
		}
		if r.Method != http.MethodGet {
			if err := readForm(w, r, MaxFormBytes); err != nil {
				u.formRefused(w, r, c, err)
				return
			}
			tok := r.Header.Get("X-CSRF-Token")
			if tok == "" {
				tok = r.PostFormValue("csrf")
			}
			if tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(sess.CSRF)) != 1 {
				u.errorPage(w, r, c, http.StatusForbidden, "Form expired", "The form's security token is missing or stale. Reload the page and try again.")
				return
			}
		}
		if err := rt.h(w, r, c); err != nil {
			u.fail(w, r, c, err)
			return
		}
		if r.Method != http.MethodGet && rt.op != "" && !c.audited && sw.code() < 400 {
			c.audit(rt.op, r.PathValue("id"), nil)
		}
	})
}

// Caps of what a browser may post: a form or the editor's JSON (a rule file is at most 1 MiB,
// and URL encoding may triple it), and the sign-in form.
const (
	MaxFormBytes  = 4 << 20
	MaxLoginBytes = 64 << 10
)

// errFormTooLarge: a posted body over its cap.
var errFormTooLarge = errors.New("the form is too large")

// readForm caps r's body at limit and parses a posted form (URL-encoded or multipart; other
// bodies, such as the editor's JSON, are left to the handler under the same cap). Nothing is
// written to disk: the cap is below what multipart parsing keeps in memory.
func readForm(w http.ResponseWriter, r *http.Request, limit int64) error {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	err := r.ParseForm() // first: ParseMultipartForm drops its error for a body that is not multipart
	if err == nil {
		err = r.ParseMultipartForm(limit)
	}
	var mbe *http.MaxBytesError
	switch {
	case err == nil, errors.Is(err, http.ErrNotMultipart):
		return nil
	case errors.As(err, &mbe):
		return fmt.Errorf("%w: over the limit of %d bytes", errFormTooLarge, limit)
	}
	return fmt.Errorf("the form cannot be read: %w", err)
}

// formRefused answers a form readForm refused: 413 when too large, 400 otherwise.
func (u *UI) formRefused(w http.ResponseWriter, r *http.Request, c *reqCtx, err error) {
	code := http.StatusBadRequest
	if errors.Is(err, errFormTooLarge) {
		code = http.StatusRequestEntityTooLarge
	}
	u.errorPage(w, r, c, code, "Not done", err.Error())
}

// fail renders an error as a page: 404 for what is not found, 400 for bad input, 409 for a
// conflict, 500 (logged) otherwise.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, c *reqCtx, err error) {
	var we *wire.Error
	var fe *forward.FieldError
	var pe *policy.ProblemsError
	var le *policy.LimitError
	switch {
	case errors.Is(err, store.ErrNotFound):
		u.errorPage(w, r, c, http.StatusNotFound, "Not found", "Nothing here by that id: it may have been deleted or aged out by retention.")
	case errors.As(err, &we):
		code := http.StatusBadRequest
		if we.Code == wire.CodeConflict {
			code = http.StatusConflict
		}
		u.errorPage(w, r, c, code, "Not done", we.Message)
	case errors.As(err, &fe), errors.As(err, &pe), errors.As(err, &le), errors.Is(err, store.ErrBadCursor):
		u.errorPage(w, r, c, http.StatusBadRequest, "Not done", err.Error())
	case errors.Is(err, store.ErrConflict):
		u.errorPage(w, r, c, http.StatusConflict, "Not done", err.Error())
	case errors.Is(err, context.Canceled):
	default:
		u.log.Error("page failed", "path", r.URL.Path, "error", err)
		u.errorPage(w, r, c, http.StatusInternalServerError, "Something went wrong", "The server could not complete this; the details are in its log.")
	}
}

func (u *UI) errorPage(w http.ResponseWriter, r *http.Request, c *reqCtx, code int, heading, msg string) {
	v := errorView{Heading: heading, Message: msg}
	if c != nil {
		v.Base = c.base("", heading)
	} else {
		v.Base = Base{Title: heading, Crumbs: []Crumb{{Name: heading}}}
	}
	if err := u.r.render(w, code, "error", v); err != nil {
		u.log.Error("render error page", "error", err)
		http.Error(w, msg, code)
	}
}

// cookie builds one of the UI's cookies: HttpOnly, Secure (unless InsecureCookies), SameSite=Lax.
func (u *UI) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true, Secure: !u.cfg.InsecureCookies, SameSite: http.SameSiteLaxMode}
}

// statusWriter remembers the status code for the metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}
