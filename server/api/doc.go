// Package api is the server's HTTP interface: the agent API (/api/v1/agent/...) and the admin
// API (/api/v1/...), declared in one route table (method, pattern, who may call it, handler and
// the types of its bodies). The router, the authentication and role checks, the audit log of
// state-changing calls and the OpenAPI document are all built from that table, so a route cannot
// be served without being authenticated and documented; other parts (the web UI) add routes to
// it. Every error answer is wire's envelope {"error": {"code", "message", "field"}}.
package api
