package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/server/auth"
	"github.com/vigilhq/vigil/server/ingest"
	"github.com/vigilhq/vigil/server/policy"
	"github.com/vigilhq/vigil/server/store"
	"github.com/vigilhq/vigil/server/triage"
)

var pageParams = []Param{
	{Name: "limit", In: "query", Type: "integer", Description: "page size (default 100, at most 1000)"},
	{Name: "cursor", In: "query", Type: "string", Description: "next_cursor of the previous page"},
}

func idParam(desc string) Param {
	return Param{Name: "id", In: "path", Type: "string", Description: desc}
}

func (a *API) adminRoutes() []Route {
	get, post, put, del := http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete
	v, an, ad := auth.RoleViewer, auth.RoleAnalyst, auth.RoleAdmin
	u := AuthUser
	return []Route{
		{Method: get, Pattern: "/healthz", Op: "health", Tag: "server", Auth: AuthPublic, Summary: "Liveness: the server answers and its database too",
			Response: healthResponse{}, Handler: a.health},
		{Method: get, Pattern: "/api/v1/openapi.json", Op: "openapi", Tag: "server", Auth: u, Role: v, Summary: "This API's OpenAPI 3 document",
			Response: map[string]any{}, Handler: a.openapi},

		{Method: post, Pattern: "/api/v1/auth/login", Op: "login", Tag: "auth", Auth: AuthPassword,
			Summary: "Exchange a user name and password for an API token valid 12 hours", Request: loginRequest{}, Response: tokenCreated{}, Handler: a.login},
		{Method: get, Pattern: "/api/v1/auth/me", Op: "whoami", Tag: "auth", Auth: u, Role: v, Summary: "The caller", Response: auth.Principal{}, Handler: a.whoami},
		{Method: get, Pattern: "/api/v1/tokens", Op: "listTokens", Tag: "auth", Auth: u, Role: v, Summary: "The caller's API tokens", Response: tokenList{}, Handler: a.listTokens},
		{Method: post, Pattern: "/api/v1/tokens", Op: "createToken", Tag: "auth", Auth: u, Role: v, Status: http.StatusCreated,
			Summary: "Create an API token for the caller (shown once)", Request: tokenRequest{}, Response: tokenCreated{}, Handler: a.createToken},
		{Method: del, Pattern: "/api/v1/tokens/{id}", Op: "revokeToken", Tag: "auth", Auth: u, Role: v, Query: []Param{idParam("token id")},
			Summary: "Revoke one of the caller's API tokens (admins: anyone's)", Status: http.StatusNoContent, Handler: a.revokeToken},

		{Method: get, Pattern: "/api/v1/hosts", Op: "listHosts", Tag: "hosts", Auth: u, Role: v, Summary: "Enrolled hosts",
			Query: append([]Param{
				{Name: "q", In: "query", Type: "string", Description: "substring of the hostname or machine id"},
				{Name: "os", In: "query", Type: "string", Description: "linux, macos or windows"},
				{Name: "status", In: "query", Type: "string", Description: "online or offline (silent for 3 check-in intervals)"},
			}, pageParams...), Response: hostList{}, Handler: a.listHosts},
		{Method: get, Pattern: "/api/v1/hosts/{id}", Op: "getHost", Tag: "hosts", Auth: u, Role: v, Query: []Param{idParam("host id")},
			Summary: "A host with its inventory (USB devices, displays, network, users) and agent health", Response: hostDetail{}, Handler: a.getHost},
		{Method: get, Pattern: "/api/v1/hosts/{id}/events", Op: "listHostEvents", Tag: "hosts", Auth: u, Role: v,
			Query: append([]Param{idParam("host id"),
				{Name: "since", In: "query", Type: "string", Description: "RFC 3339 time, inclusive"},
				{Name: "until", In: "query", Type: "string", Description: "RFC 3339 time, exclusive"}}, pageParams...),
			Summary: "A host's events, newest first", Response: eventList{}, Handler: a.hostEvents},

		{Method: get, Pattern: "/api/v1/findings", Op: "listFindings", Tag: "findings", Auth: u, Role: v, Summary: "Findings, newest first",
			Query: append([]Param{
				{Name: "level", In: "query", Type: "string", Description: "comma-separated levels (informational, low, medium, high, critical)"},
				{Name: "status", In: "query", Type: "string", Description: "comma-separated statuses (new, investigating, resolved, false_positive)"},
				{Name: "rule", In: "query", Type: "string", Description: "rule id"},
				{Name: "host", In: "query", Type: "string", Description: "host id: its findings and the fleet findings naming it"},
				{Name: "source", In: "query", Type: "string", Description: "agent or fleet"},
				{Name: "since", In: "query", Type: "string", Description: "RFC 3339 time, inclusive"},
				{Name: "until", In: "query", Type: "string", Description: "RFC 3339 time, exclusive"},
			}, pageParams...), Response: findingList{}, Handler: a.listFindings},
		{Method: get, Pattern: "/api/v1/findings/{id}", Op: "getFinding", Tag: "findings", Auth: u, Role: v, Query: []Param{idParam("finding id")},
			Summary: "A finding with its evidence events, its hosts and the rule's text and author", Response: findingDetail{}, Handler: a.getFinding},
		{Method: post, Pattern: "/api/v1/findings/{id}/status", Op: "setFindingStatus", Tag: "findings", Auth: u, Role: an, Query: []Param{idParam("finding id")},
			Summary: "Triage: set a finding's status", Request: statusRequest{}, Response: store.Finding{}, Handler: a.setFindingStatus},

		{Method: get, Pattern: "/api/v1/rules", Op: "listRules", Tag: "rules", Auth: u, Role: v, Summary: "Custom rule files and the built-in rules",
			Response: ruleList{}, Handler: a.listRules},
		{Method: post, Pattern: "/api/v1/rules", Op: "createRule", Tag: "rules", Auth: u, Role: ad, Status: http.StatusCreated,
			Summary: "Add a custom rule file (validated; publishes a new policy version)", Request: ruleRequest{}, Response: ruleChanged{}, Handler: a.createRule},
		{Method: post, Pattern: "/api/v1/rules/lint", Op: "lintRule", Tag: "rules", Auth: u, Role: v, NoAudit: true,
			Summary: "Validate a rule file without storing it", Request: ruleRequest{}, Response: lintResponse{}, Handler: a.lintRule},
		{Method: post, Pattern: "/api/v1/rules/import", Op: "importRules", Tag: "rules", Auth: u, Role: ad, MaxBody: 64 << 20,
			Summary: "Import many rule files leniently (JSON, or a .tar.gz of a rule folder): refused files are reported, the rest published",
			Request: importRequest{}, Response: policy.ImportReport{}, Handler: a.importRules},
		{Method: get, Pattern: "/api/v1/rules/{id}", Op: "getRule", Tag: "rules", Auth: u, Role: v, Query: []Param{idParam("rule file id")},
			Summary: "A custom rule file", Response: store.RuleFile{}, Handler: a.getRule},
		{Method: put, Pattern: "/api/v1/rules/{id}", Op: "updateRule", Tag: "rules", Auth: u, Role: ad, Query: []Param{idParam("rule file id")},
			Summary: "Replace (or rename) a custom rule file; publishes a new policy version", Request: ruleRequest{}, Response: ruleChanged{}, Handler: a.updateRule},
		{Method: del, Pattern: "/api/v1/rules/{id}", Op: "deleteRule", Tag: "rules", Auth: u, Role: ad, Query: []Param{idParam("rule file id")},
			Summary: "Delete a custom rule file; publishes a new policy version", Response: ruleChanged{}, Handler: a.deleteRule},
		{Method: post, Pattern: "/api/v1/rules/builtin/{id}/disable", Op: "disableBuiltinRule", Tag: "rules", Auth: u, Role: ad, Query: []Param{idParam("built-in rule id")},
			Summary: "Turn a built-in rule off fleet-wide; publishes a new policy version", Response: ruleChanged{}, Handler: a.toggleBuiltin(true)},
		{Method: post, Pattern: "/api/v1/rules/builtin/{id}/enable", Op: "enableBuiltinRule", Tag: "rules", Auth: u, Role: ad, Query: []Param{idParam("built-in rule id")},
			Summary: "Turn a built-in rule back on; publishes a new policy version", Response: ruleChanged{}, Handler: a.toggleBuiltin(false)},

		{Method: get, Pattern: "/api/v1/policy/versions", Op: "listPolicyVersions", Tag: "rules", Auth: u, Role: v, Query: pageParams,
			Summary: "Published policy versions, newest first (rule names only)", Response: policyList{}, Handler: a.listPolicyVersions},
		{Method: get, Pattern: "/api/v1/policy/versions/{version}", Op: "getPolicyVersion", Tag: "rules", Auth: u, Role: v,
			Query:   []Param{{Name: "version", In: "path", Type: "integer", Description: "policy version"}},
			Summary: "One policy version with its signed bundle", Response: store.PolicyVersion{}, Handler: a.getPolicyVersion},

		{Method: get, Pattern: "/api/v1/enroll-secrets", Op: "listEnrollSecrets", Tag: "enrollment", Auth: u, Role: ad,
			Summary: "Enroll secrets (never their value)", Response: secretList{}, Handler: a.listSecrets},
		{Method: post, Pattern: "/api/v1/enroll-secrets", Op: "createEnrollSecret", Tag: "enrollment", Auth: u, Role: ad, Status: http.StatusCreated,
			Summary: "Create an enroll secret (its value is shown once)", Request: secretRequest{}, Response: secretCreated{}, Handler: a.createSecret},
		{Method: del, Pattern: "/api/v1/enroll-secrets/{id}", Op: "revokeEnrollSecret", Tag: "enrollment", Auth: u, Role: ad, Query: []Param{idParam("secret id")},
			Summary: "Revoke an enroll secret (enrolled agents keep working)", Status: http.StatusNoContent, Handler: a.revokeSecret},

		{Method: get, Pattern: "/api/v1/audit", Op: "listAudit", Tag: "audit", Auth: u, Role: ad, Summary: "The audit log, newest first",
			Query: append([]Param{
				{Name: "actor", In: "query", Type: "string", Description: "user name"},
				{Name: "action", In: "query", Type: "string", Description: "operation name (createRule...)"},
				{Name: "since", In: "query", Type: "string", Description: "RFC 3339 time, inclusive"},
				{Name: "until", In: "query", Type: "string", Description: "RFC 3339 time, exclusive"},
			}, pageParams...), Response: auditList{}, Handler: a.listAudit},
	}
}

type healthResponse struct {
	Status string `json:"status"`
}

func (a *API) health(w http.ResponseWriter, r *http.Request) {
	if p, ok := a.d.Store.(store.Pinger); ok {
		if err := p.Ping(r.Context()); err != nil {
			writeError(w, &wire.Error{Code: wire.CodeUnavailable, Message: "database unreachable"})
			return
		}
	}
	writeJSON(w, http.StatusOK, healthResponse{Status: "ok"})
}

// query helpers

func page(r *http.Request) (store.Page, *wire.Error) {
	p := store.Page{Cursor: r.URL.Query().Get("cursor")}
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return p, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("limit %q: want a positive integer", s), Field: "limit"}
		}
		p.Limit = n
	}
	return p, nil
}

func timeParam(r *http.Request, name string) (time.Time, *wire.Error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("%s %q: want an RFC 3339 time", name, s), Field: name}
	}
	return t, nil
}

func listParam(r *http.Request, name string, allowed []string) ([]string, *wire.Error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, v := range strings.Split(s, ",") {
		v = strings.TrimSpace(v)
		ok := false
		for _, a := range allowed {
			ok = ok || a == v
		}
		if !ok {
			return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("%s %q: want one of %s", name, v, strings.Join(allowed, ", ")), Field: name}
		}
		out = append(out, v)
	}
	return out, nil
}

// checkLabel validates the name a user gives a secret or a token.
func checkLabel(name string) *wire.Error {
	if strings.TrimSpace(name) == "" || len(name) > 128 {
		return &wire.Error{Code: wire.CodeBadRequest, Message: "want a name of 1 to 128 bytes", Field: "name"}
	}
	return nil
}

func (a *API) decodeAdmin(w http.ResponseWriter, r *http.Request, v any) bool {
	if werr := decodeJSON(w, r, v, 1<<20, 8<<20, true); werr != nil {
		writeError(w, werr)
		return false
	}
	return true
}

// hosts

// HostView is a host as the admin API shows it.
type HostView struct {
	store.Host
	// Online is false once the host was silent for 3 check-in intervals.
	Online bool `json:"online"`
}

type hostList struct {
	Hosts      []HostView `json:"hosts"`
	NextCursor string     `json:"next_cursor,omitempty"`
	Total      int        `json:"total"`
}

type hostDetail struct {
	Host      HostView                   `json:"host"`
	Inventory map[string]json.RawMessage `json:"inventory"`
	// InventoryTimes says when each kind was observed.
	InventoryTimes map[string]time.Time `json:"inventory_times"`
	Health         *wire.Health         `json:"health,omitempty"`
}

func (a *API) offlineBefore() time.Time { return a.d.Now().Add(-3 * a.d.CheckinInterval) }

func (a *API) view(h store.Host) HostView {
	return HostView{Host: h, Online: !h.LastSeen.Before(a.offlineBefore())}
}

func (a *API) listHosts(w http.ResponseWriter, r *http.Request) {
	p, werr := page(r)
	if werr != nil {
		writeError(w, werr)
		return
	}
	q := r.URL.Query()
	f := store.HostFilter{Query: q.Get("q"), OS: q.Get("os"), Page: p}
	switch q.Get("status") {
	case "":
	case "online":
		f.SeenAfter = a.offlineBefore()
	case "offline":
		f.SeenBefore = a.offlineBefore()
	default:
		writeError(w, &wire.Error{Code: wire.CodeBadRequest, Message: "status: want online or offline", Field: "status"})
		return
	}
	hosts, next, err := a.d.Store.ListHosts(r.Context(), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	total, err := a.d.Store.CountHosts(r.Context(), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := hostList{Hosts: make([]HostView, 0, len(hosts)), NextCursor: next, Total: total}
	for _, h := range hosts {
		out.Hosts = append(out.Hosts, a.view(h))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) getHost(w http.ResponseWriter, r *http.Request) {
	h, err := a.d.Store.Host(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	invs, err := a.d.Store.HostInventory(r.Context(), h.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := hostDetail{Host: a.view(h), Inventory: map[string]json.RawMessage{}, InventoryTimes: map[string]time.Time{}}
	for _, inv := range invs {
		out.Inventory[inv.Kind] = inv.Items
		out.InventoryTimes[inv.Kind] = inv.Time
	}
	if len(h.Health) > 0 {
		var hv wire.Health
		if json.Unmarshal(h.Health, &hv) == nil {
			out.Health = &hv
		}
	}
	writeJSON(w, http.StatusOK, out)
}

type eventList struct {
	Events     []store.Event `json:"events"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

func (a *API) hostEvents(w http.ResponseWriter, r *http.Request) {
	p, werr := page(r)
	if werr == nil {
		var since, until time.Time
		if since, werr = timeParam(r, "since"); werr == nil {
			if until, werr = timeParam(r, "until"); werr == nil {
				evs, next, err := a.d.Store.HostEvents(r.Context(), r.PathValue("id"), since, until, p)
				if err != nil {
					a.fail(w, r, err)
					return
				}
				if evs == nil {
					// none: is there such a host at all?
					if _, err := a.d.Store.Host(r.Context(), r.PathValue("id")); err != nil {
						a.fail(w, r, err)
						return
					}
					evs = []store.Event{}
				}
				writeJSON(w, http.StatusOK, eventList{Events: evs, NextCursor: next})
				return
			}
		}
	}
	writeError(w, werr)
}

// findings

type findingList struct {
	Findings   []store.Finding `json:"findings"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

type hostSummary struct {
	ID       string `json:"id"`
	Hostname string `json:"hostname"`
	EgressIP string `json:"egress_ip,omitempty"`
	Online   bool   `json:"online"`
}

type findingDetail struct {
	Finding  store.Finding      `json:"finding"`
	Hosts    []hostSummary      `json:"hosts"`
	Evidence []store.Event      `json:"evidence"`
	Rule     *policy.RuleSource `json:"rule,omitempty"`
}

var statuses = []string{store.StatusNew, store.StatusInvestigating, store.StatusResolved, store.StatusFalsePositive}

func (a *API) listFindings(w http.ResponseWriter, r *http.Request) {
	var f store.FindingFilter
	var werr *wire.Error
	q := r.URL.Query()
	f.Page, werr = page(r)
	if werr == nil {
		f.Levels, werr = listParam(r, "level", ingest.Levels)
	}
	if werr == nil {
		f.Statuses, werr = listParam(r, "status", statuses)
	}
	if werr == nil {
		f.Since, werr = timeParam(r, "since")
	}
	if werr == nil {
		f.Until, werr = timeParam(r, "until")
	}
	if werr == nil && q.Get("source") != "" && q.Get("source") != store.SourceAgent && q.Get("source") != store.SourceFleet {
		werr = &wire.Error{Code: wire.CodeBadRequest, Message: "source: want agent or fleet", Field: "source"}
	}
	if werr != nil {
		writeError(w, werr)
		return
	}
	f.RuleID, f.HostID, f.Source = q.Get("rule"), q.Get("host"), q.Get("source")
	fs, next, err := a.d.Store.ListFindings(r.Context(), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if fs == nil {
		fs = []store.Finding{}
	}
	writeJSON(w, http.StatusOK, findingList{Findings: fs, NextCursor: next})
}

func (a *API) getFinding(w http.ResponseWriter, r *http.Request) {
	f, err := a.d.Store.Finding(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := findingDetail{Finding: f, Hosts: []hostSummary{}, Evidence: []store.Event{}}
	for _, id := range f.Hosts {
		h, err := a.d.Store.Host(r.Context(), id)
		if err != nil {
			out.Hosts = append(out.Hosts, hostSummary{ID: id})
			continue
		}
		out.Hosts = append(out.Hosts, hostSummary{ID: h.ID, Hostname: h.Hostname, EgressIP: h.EgressIP, Online: a.view(h).Online})
	}
	var refs []store.EvidenceRef
	for _, id := range f.EventIDs {
		if f.Source == store.SourceFleet {
			// Fleet evidence ids are fleet facts "host/fact".
			continue
		}
		refs = append(refs, store.EvidenceRef{HostID: f.HostID, EventID: id})
	}
	if len(refs) > 0 {
		evs, err := a.d.Store.EventsByID(r.Context(), refs)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		out.Evidence = evs
	}
	if src, ok := a.d.Policy.Source(r.Context(), f.RuleID); ok {
		out.Rule = &src
	}
	writeJSON(w, http.StatusOK, out)
}

type statusRequest struct {
	Status string `json:"status"`
}

func (a *API) setFindingStatus(w http.ResponseWriter, r *http.Request) {
	var req statusRequest
	if !a.decodeAdmin(w, r, &req) {
		return
	}
	ok := false
	for _, s := range statuses {
		ok = ok || s == req.Status
	}
	if !ok {
		writeError(w, &wire.Error{Code: wire.CodeBadRequest, Message: "status: want one of " + strings.Join(statuses, ", "), Field: "status"})
		return
	}
	id := r.PathValue("id")
	if a.d.Triage != nil {
		p, _ := PrincipalOf(r)
		if _, err := a.d.Triage.Apply(r.Context(), p.Username, triage.Change{IDs: []string{id}, Status: req.Status}); err != nil {
			a.fail(w, r, err)
			return
		}
	} else if err := a.d.Store.SetFindingStatus(r.Context(), id, req.Status); err != nil {
		a.fail(w, r, err)
		return
	}
	f, err := a.d.Store.Finding(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	Audit(r, id, req)
	writeJSON(w, http.StatusOK, f)
}

// enroll secrets

type secretList struct {
	Secrets []store.EnrollSecret `json:"secrets"`
}

type secretRequest struct {
	Name string `json:"name"`
}

type secretCreated struct {
	store.EnrollSecret
	// Secret is the value agents enroll with; it is not stored and not shown again.
	Secret string `json:"secret"`
}

func (a *API) listSecrets(w http.ResponseWriter, r *http.Request) {
	list, err := a.d.Store.ListEnrollSecrets(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if list == nil {
		list = []store.EnrollSecret{}
	}
	writeJSON(w, http.StatusOK, secretList{Secrets: list})
}

// NewEnrollSecret creates and stores an enroll secret, returning its value.
func NewEnrollSecret(r *http.Request, st store.EnrollSecrets, name, by string, now time.Time) (store.EnrollSecret, string, error) {
	value, hash := auth.NewToken(auth.PrefixEnroll)
	s := store.EnrollSecret{ID: event.NewID(), Name: name, Hash: hash, CreatedAt: now.UTC(), CreatedBy: by}
	return s, value, st.CreateEnrollSecret(r.Context(), s)
}

func (a *API) createSecret(w http.ResponseWriter, r *http.Request) {
	var req secretRequest
	if !a.decodeAdmin(w, r, &req) {
		return
	}
	if werr := checkLabel(req.Name); werr != nil {
		writeError(w, werr)
		return
	}
	p, _ := PrincipalOf(r)
	s, value, err := NewEnrollSecret(r, a.d.Store, req.Name, p.Username, a.d.Now())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	Audit(r, s.ID, map[string]string{"name": s.Name})
	writeJSON(w, http.StatusCreated, secretCreated{EnrollSecret: s, Secret: value})
}

func (a *API) revokeSecret(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := a.d.Store.RevokeEnrollSecret(r.Context(), id, a.d.Now().UTC()); err != nil {
		a.fail(w, r, err)
		return
	}
	Audit(r, id, nil)
	w.WriteHeader(http.StatusNoContent)
}

// audit

type auditList struct {
	Entries    []store.AuditEntry `json:"entries"`
	NextCursor string             `json:"next_cursor,omitempty"`
}

func (a *API) listAudit(w http.ResponseWriter, r *http.Request) {
	var f store.AuditFilter
	var werr *wire.Error
	f.Page, werr = page(r)
	if werr == nil {
		f.Since, werr = timeParam(r, "since")
	}
	if werr == nil {
		f.Until, werr = timeParam(r, "until")
	}
	if werr != nil {
		writeError(w, werr)
		return
	}
	f.Actor, f.Action = r.URL.Query().Get("actor"), r.URL.Query().Get("action")
	list, next, err := a.d.Store.ListAudit(r.Context(), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if list == nil {
		list = []store.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, auditList{Entries: list, NextCursor: next})
}
