package api

import (
	"net/http"
	"net/netip"
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
