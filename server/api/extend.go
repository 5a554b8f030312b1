package api

import (
	"net/http"
	"net/netip"
	"time"
)

// What route handlers defined outside this package (triage, settings, the web UI) need to
// answer as the rest of the API does.

// WriteJSON writes v as a JSON answer with status.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

// Decode reads a JSON request body of at most 1 MiB into v, strictly (unknown fields are
// refused); on failure it has answered and returns false.
func (a *API) Decode(w http.ResponseWriter, r *http.Request, v any) bool {
	return a.decodeAdmin(w, r, v)
}

// Fail answers an error in the envelope: wire errors as they are, store.ErrNotFound as 404,
// ErrConflict as 409, anything else as a logged 500.
func (a *API) Fail(w http.ResponseWriter, r *http.Request, err error) { a.fail(w, r, err) }

// ClientIP is the request's source address (X-Forwarded-For only from trusted proxies).
func (a *API) ClientIP(r *http.Request) netip.Addr { return a.clientIP(r) }

// LoginGuard limits password sign-ins and records their failures. The web UI provides it, so
// that POST /api/v1/auth/login and the sign-in form share one count per address and per user
// name (guessing through the API is no faster than through the form) and API failures reach
// the audit log and the metrics too.
type LoginGuard interface {
	// Blocked returns how long sign-ins for username from r's address stay refused (0: not);
	// a refused attempt counts as a failed sign-in in the metrics.
	Blocked(r *http.Request, username string) time.Duration
	Failed(r *http.Request, username string)
	Succeeded(r *http.Request, username string)
}

// SetLoginGuard sets the guard of password sign-ins (before Handler is called).
func (a *API) SetLoginGuard(g LoginGuard) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.loginGuard = g
}
