package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/time/rate"

	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/server/auth"
	"github.com/vigilhq/vigil/server/ingest"
	"github.com/vigilhq/vigil/server/policy"
	"github.com/vigilhq/vigil/server/store"
	"github.com/vigilhq/vigil/server/triage"
	"github.com/vigilhq/vigil/server/updates"
)

// Deps are what the API serves from.
type Deps struct {
	Store  store.Store
	Auth   *auth.Authenticator
	Ingest *ingest.Service
	Policy *policy.Service
	// Triage applies status changes (the workflow's rules); nil sets statuses directly.
	Triage *triage.Service
	// Workbench, with Triage, adds the triage routes (bulk triage, comments, suppressions) and
	// the ECS export.
	Workbench store.Workbench
	Logger    hclog.Logger
	// CheckinInterval is told to agents; hosts silent for 3 intervals are offline.
	CheckinInterval time.Duration
	// TrustedProxies are the addresses whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// AgentRate and AgentBurst limit each agent's requests (per second; default 10 and 40).
	AgentRate  float64
	AgentBurst int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Updates serves the release repository and the upgrade offer (nil: none configured).
	Updates *updates.Service
}

// API is the HTTP interface.
type API struct {
	d       Deps
	log     hclog.Logger
	mu      sync.Mutex
	routes  []Route
	limiter *agentLimiter
	logins  *agentLimiter // failed enrollments and logins per address
	// authenticators of AuthUser requests beyond API tokens (the web UI's sessions).
	userAuth []UserAuthenticator
	// loginGuard limits password sign-ins per address and user name (nil: per address only).
	loginGuard LoginGuard
}

// UserAuthenticator authenticates a user request by other means than an API token (a session
// cookie, say): ok false means "not mine, try the next"; an error refuses the request.
type UserAuthenticator func(r *http.Request) (p auth.Principal, ok bool, err error)

// New returns the API with the agent and admin routes.
func New(d Deps) *API {
	if d.Logger == nil {
		d.Logger = hclog.NewNullLogger()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.CheckinInterval <= 0 {
		d.CheckinInterval = wire.DefaultCheckinInterval
	}
	if d.AgentRate <= 0 {
		d.AgentRate = 10
	}
	if d.AgentBurst <= 0 {
		d.AgentBurst = 40
	}
	a := &API{d: d, log: d.Logger.Named("api"),
		limiter: newLimiter(rate.Limit(d.AgentRate), d.AgentBurst),
		logins:  newLimiter(rate.Every(6*time.Second), 10)}
	a.routes = append(a.routes, a.agentRoutes()...)
	a.routes = append(a.routes, a.adminRoutes()...)
	if d.Triage != nil && d.Workbench != nil {
		a.routes = append(a.routes, a.triageRoutes()...)
	}
	a.routes = append(a.routes, a.upgradeRoutes()...)
	return a
}

// AddRoutes adds routes to the table (before Handler is called).
func (a *API) AddRoutes(rs ...Route) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.routes = append(a.routes, rs...)
}

// AddUserAuthenticator adds a means of authenticating AuthUser requests.
func (a *API) AddUserAuthenticator(f UserAuthenticator) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.userAuth = append(a.userAuth, f)
}

// Routes returns the route table.
func (a *API) Routes() []Route {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Route(nil), a.routes...)
}

// Handler builds the router from the route table.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range a.Routes() {
		mux.Handle(rt.Key(), a.wrap(rt))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &wire.Error{Code: wire.CodeNotFound, Message: fmt.Sprintf("no route %s %s", r.Method, r.URL.Path)})
	})
	return a.recover(mux)
}

func (a *API) recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				writeError(w, &wire.Error{Code: wire.CodeInternal, Message: "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type ctxKey int

const (
	keyPrincipal ctxKey = iota
	keyAgent
	keyAudit
	keyRoute
)

// auditNote is what a handler adds to its audit entry.
type auditNote struct {
	actor   string
	target  string
	details any
}

// PrincipalOf returns the user of an AuthUser request.
func PrincipalOf(r *http.Request) (auth.Principal, bool) {
	p, ok := r.Context().Value(keyPrincipal).(auth.Principal)
	return p, ok
}

func agentOf(r *http.Request) ingest.Agent {
	a, _ := r.Context().Value(keyAgent).(ingest.Agent)
	return a
}

// Audit sets the target and details of the request's audit entry (never put a secret there).
func Audit(r *http.Request, target string, details any) {
	if n, ok := r.Context().Value(keyAudit).(*auditNote); ok {
		n.target, n.details = target, details
	}
}

// AuditActor names the actor of an audit entry for routes without a user (enrollment, login).
func AuditActor(r *http.Request, actor string) {
	if n, ok := r.Context().Value(keyAudit).(*auditNote); ok {
		n.actor = actor
	}
}

// statusWriter remembers the status written.
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

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// wrap authenticates and authorizes, then audits, one route.
func (a *API) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), keyRoute, rt.Op)
		actor := ""
		switch rt.Auth {
		case AuthUser:
			p, err := a.authUser(r)
			if err != nil {
				a.refuse(w, r, err)
				return
			}
			if !p.Role.Allows(rt.Role) {
				writeError(w, &wire.Error{Code: wire.CodeForbidden, Message: fmt.Sprintf("%s needs the %s role; %s has %s", rt.Op, rt.Role, p.Username, p.Role)})
				return
			}
			ctx = context.WithValue(ctx, keyPrincipal, p)
			actor = p.Username
		case AuthAgent:
			id, err := a.d.Auth.Agent(r.Context(), auth.Bearer(r.Header.Get("Authorization")))
			if err != nil {
				a.refuse(w, r, err)
				return
			}
			if !a.limiter.allow(id.HostID) {
				w.Header().Set("Retry-After", "1")
				writeError(w, &wire.Error{Code: wire.CodeRateLimited, Message: "too many requests from this agent"})
				return
			}
			ctx = context.WithValue(ctx, keyAgent, ingest.Agent{HostID: id.HostID, Hostname: id.Hostname,
				RemoteIP: a.clientIP(r).String(), StoredEgressIP: id.EgressIP})
		case AuthEnroll, AuthPassword:
			// The handler checks the body's credentials; failures are limited per address.
			if a.logins.exhausted(a.clientIP(r).String()) {
				w.Header().Set("Retry-After", "6")
				writeError(w, &wire.Error{Code: wire.CodeRateLimited, Message: "too many failed attempts from this address"})
				return
			}
		case AuthPublic:
		default:
			writeError(w, &wire.Error{Code: wire.CodeInternal, Message: "route without authentication"})
			return
		}
		audited := rt.StateChanging() && !rt.NoAudit
		var note *auditNote
		if audited {
			note = &auditNote{}
			ctx = context.WithValue(ctx, keyAudit, note)
		}
		sw := &statusWriter{ResponseWriter: w}
		rt.Handler(sw, r.WithContext(ctx))
		if !audited || sw.status >= 400 {
			return
		}
		if actor == "" {
			if p, ok := ctx.Value(keyPrincipal).(auth.Principal); ok {
				actor = p.Username
			}
		}
		if actor == "" {
			actor = note.actor
		}
		if actor == "" {
			actor = "anonymous"
		}
		var details json.RawMessage
		if note.details != nil {
			details, _ = json.Marshal(note.details)
		}
		err := a.d.Store.AppendAudit(context.WithoutCancel(r.Context()), store.AuditEntry{Time: a.d.Now().UTC(), Actor: actor, Action: rt.Op,
			Target: note.target, Remote: a.clientIP(r).String(), Details: details})
		if err != nil {
			a.log.Error("audit log write failed", "action", rt.Op, "actor", actor, "error", err)
		}
	})
}

func (a *API) authUser(r *http.Request) (auth.Principal, error) {
	if tok := auth.Bearer(r.Header.Get("Authorization")); tok != "" {
		return a.d.Auth.User(r.Context(), tok)
	}
	a.mu.Lock()
	extra := a.userAuth
	a.mu.Unlock()
	for _, f := range extra {
		p, ok, err := f(r)
		if err != nil {
			return p, err
		}
		if ok {
			return p, nil
		}
	}
	return auth.Principal{}, auth.ErrUnauthorized
}

func (a *API) refuse(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, auth.ErrUnauthorized) {
		if op, _ := r.Context().Value(keyRoute).(string); op == "agentEnroll" || op == "login" {
			a.logins.allow(a.clientIP(r).String()) // spends one of the address's failures
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
		writeError(w, &wire.Error{Code: wire.CodeUnauthorized, Message: "missing or invalid credentials"})
		return
	}
	a.fail(w, r, err)
}

// writeError writes the envelope with the status of its code.
func writeError(w http.ResponseWriter, e *wire.Error) {
	writeJSON(w, statusOf(e.Code), wire.ErrorBody{Error: *e})
}

func statusOf(code string) int {
	switch code {
	case wire.CodeBadRequest:
		return http.StatusBadRequest
	case wire.CodeUnauthorized:
		return http.StatusUnauthorized
	case wire.CodeForbidden:
		return http.StatusForbidden
	case wire.CodeNotFound:
		return http.StatusNotFound
	case wire.CodeConflict:
		return http.StatusConflict
	case wire.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case wire.CodeRateLimited:
		return http.StatusTooManyRequests
	case wire.CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// problemsBody is the envelope of a refused rule change: the problems with file and line.
type problemsBody struct {
	Error    wire.Error      `json:"error"`
	Problems []problemOutput `json:"problems"`
}

type problemOutput struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
	Warning bool   `json:"warning,omitempty"`
}

// fail maps an error to the envelope: store and policy errors to their status, the rest to 500
// (logged, not shown).
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var we *wire.Error
	var pe *policy.ProblemsError
	var le *policy.LimitError
	switch {
	case errors.As(err, &we):
		writeError(w, we)
	case errors.As(err, &pe):
		out := problemsBody{Error: wire.Error{Code: wire.CodeBadRequest, Message: pe.Error(), Field: "content"}}
		for _, p := range pe.Problems {
			out.Problems = append(out.Problems, problemOutput{File: p.File, Line: p.Line, Column: p.Column, Message: p.Message, Warning: p.Warning})
		}
		writeJSON(w, http.StatusBadRequest, out)
	case errors.As(err, &le):
		writeError(w, &wire.Error{Code: wire.CodeTooLarge, Message: le.Msg, Field: "content"})
	case errors.Is(err, store.ErrNotFound):
		writeError(w, &wire.Error{Code: wire.CodeNotFound, Message: err.Error()})
	case errors.Is(err, store.ErrConflict):
		writeError(w, &wire.Error{Code: wire.CodeConflict, Message: err.Error()})
	case errors.Is(err, store.ErrBadCursor):
		writeError(w, &wire.Error{Code: wire.CodeBadRequest, Message: err.Error(), Field: "cursor"})
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away.
	default:
		a.log.Error("request failed", "op", r.Context().Value(keyRoute), "error", err)
		writeError(w, &wire.Error{Code: wire.CodeInternal, Message: "internal error (see the server log)"})
	}
}

// clientIP is the request's source address, or for a trusted proxy the nearest untrusted
// address of X-Forwarded-For.
func (a *API) clientIP(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	ip := ap.Addr().Unmap()
	if !a.trusted(ip) {
		return ip
	}
	xff := r.Header.Values("X-Forwarded-For")
	var hops []string
	for _, h := range xff {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return ip
		}
		hop = hop.Unmap()
		if !a.trusted(hop) {
			return hop
		}
		ip = hop
	}
	return ip
}

func (a *API) trusted(ip netip.Addr) bool {
	for _, p := range a.d.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// agentLimiter is a token bucket per key, forgotten after a while idle.
type agentLimiter struct {
	r     rate.Limit
	burst int
	mu    sync.Mutex
	m     map[string]*limiterEntry
	swept time.Time
}

type limiterEntry struct {
	l    *rate.Limiter
	last time.Time
}

func newLimiter(r rate.Limit, burst int) *agentLimiter {
	return &agentLimiter{r: r, burst: burst, m: map[string]*limiterEntry{}, swept: time.Now()}
}

// exhausted reports whether key has no token left (without spending one).
func (l *agentLimiter) exhausted(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.m[key]
	return ok && e.l.Tokens() < 1
}

func (l *agentLimiter) allow(key string) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > 10*time.Minute {
		for k, e := range l.m {
			if now.Sub(e.last) > 10*time.Minute {
				delete(l.m, k)
			}
		}
		l.swept = now
	}
	e, ok := l.m[key]
	if !ok {
		e = &limiterEntry{l: rate.NewLimiter(l.r, l.burst)}
		l.m[key] = e
	}
	e.last = now
	return e.l.AllowN(now, 1)
}
