package api

import (
	"net/http"

	"github.com/vigilhq/vigil/server/auth"
)

// AuthKind says how a route's caller proves who it is.
type AuthKind int

// Kinds of authentication.
const (
	// AuthUser: an API token (Authorization: Bearer vgt_...) of a user whose role includes
	// Route.Role. Other parts (the web UI) may add session cookies as another means.
	AuthUser AuthKind = iota + 1
	// AuthAgent: an agent token (Authorization: Bearer vga_...).
	AuthAgent
	// AuthEnroll: the enroll secret, in the body (enrollment only).
	AuthEnroll
	// AuthPassword: a user name and password, in the body (login only).
	AuthPassword
	// AuthPublic: none (health probes).
	AuthPublic
)

func (k AuthKind) String() string {
	switch k {
	case AuthUser:
		return "user"
	case AuthAgent:
		return "agent"
	case AuthEnroll:
		return "enroll-secret"
	case AuthPassword:
		return "password"
	case AuthPublic:
		return "public"
	}
	return "unknown"
}

// Param documents a query or path parameter.
type Param struct {
	Name string
	// In is "query" or "path".
	In          string
	Type        string // string, integer, boolean
	Description string
}

// Route is one entry of the route table.
type Route struct {
	Method string
	// Pattern is the path as net/http.ServeMux reads it ({id} for a path segment).
	Pattern string
	// Op names the operation: the OpenAPI operationId and the audit log's action.
	Op      string
	Summary string
	Tag     string
	Auth    AuthKind
	// Role is the least role an AuthUser route needs.
	Role  auth.Role
	Query []Param
	// Request and Response are values of the bodies' types (nil: no body), for the OpenAPI
	// document. Status is the success status (default 200).
	Request  any
	Response any
	Status   int
	// MaxBody caps the request body (default 1 MiB); gzip bodies are also capped once decoded.
	MaxBody int64
	// NoAudit leaves a state-changing route out of the audit log (the agent API's batches).
	NoAudit bool
	// Hidden keeps a route out of the OpenAPI document (web UI pages).
	Hidden  bool
	Handler http.HandlerFunc
}

// Key is the ServeMux pattern of the route.
func (r Route) Key() string { return r.Method + " " + r.Pattern }

// StateChanging reports whether calls to the route change state (and so are audited).
func (r Route) StateChanging() bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}
