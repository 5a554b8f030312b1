package api

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/server/auth"
	"github.com/vigilhq/vigil/server/forward"
	"github.com/vigilhq/vigil/server/store"
	"github.com/vigilhq/vigil/server/triage"
)

// The triage routes: what the web UI's queue and finding pages do, for scripts and SOAR tools.

type triageRequest struct {
	IDs      []string `json:"ids"`
	Status   string   `json:"status,omitempty"`
	Assignee *string  `json:"assignee,omitempty"` // "" unassigns
	Comment  string   `json:"comment,omitempty"`
}

type commentRequest struct {
	Text string `json:"text"`
}

type commentList struct {
	Comments []store.Comment `json:"comments"`
}

type suppressionRequest struct {
	Kind      string    `json:"kind"`
	RuleID    string    `json:"rule_id,omitempty"`
	HostID    string    `json:"host_id,omitempty"`
	Field     string    `json:"field,omitempty"`
	Value     string    `json:"value,omitempty"`
	Reason    string    `json:"reason"`
	ExpiresAt time.Time `json:"expires_at"`
	FindingID string    `json:"finding_id,omitempty"`
}

type suppressionList struct {
	Suppressions []store.Suppression `json:"suppressions"`
}

func (a *API) triageRoutes() []Route {
	get, post, del := http.MethodGet, http.MethodPost, http.MethodDelete
	v, an := auth.RoleViewer, auth.RoleAnalyst
	u := AuthUser
	return []Route{
		{Method: post, Pattern: "/api/v1/findings/triage", Op: "triageFindings", Tag: "findings", Auth: u, Role: an,
			Summary: "Triage findings in bulk: a status (workflow new -> investigating -> resolved | false_positive), an assignee, a comment",
			Request: triageRequest{}, Response: triage.Result{}, Handler: a.triageFindings},
		{Method: get, Pattern: "/api/v1/findings/{id}/comments", Op: "listComments", Tag: "findings", Auth: u, Role: v, Query: []Param{idParam("finding id")},
			Summary: "A finding's comments, oldest first", Response: commentList{}, Handler: a.listComments},
		{Method: post, Pattern: "/api/v1/findings/{id}/comments", Op: "commentFinding", Tag: "findings", Auth: u, Role: an, Query: []Param{idParam("finding id")},
			Status: http.StatusCreated, Summary: "Comment on a finding", Request: commentRequest{}, Response: triage.Result{}, Handler: a.commentFinding},
		{Method: get, Pattern: "/api/v1/suppressions", Op: "listSuppressions", Tag: "findings", Auth: u, Role: v,
			Summary: "Suppressions, newest first (expired ones too)", Response: suppressionList{}, Handler: a.listSuppressions},
		{Method: post, Pattern: "/api/v1/suppressions", Op: "createSuppression", Tag: "findings", Auth: u, Role: an, Status: http.StatusCreated,
			Summary: "Suppress new findings until an expiry: one rule on one host (kind rule_host), or a field value everywhere (kind field)",
			Request: suppressionRequest{}, Response: store.Suppression{}, Handler: a.createSuppression},
		{Method: del, Pattern: "/api/v1/suppressions/{id}", Op: "deleteSuppression", Tag: "findings", Auth: u, Role: an, Query: []Param{idParam("suppression id")},
			Status: http.StatusNoContent, Summary: "Delete a suppression", Handler: a.deleteSuppression},
		{Method: get, Pattern: "/api/v1/findings/export.ndjson", Op: "exportFindings", Tag: "findings", Auth: u, Role: v,
			Query: []Param{
				{Name: "since", In: "query", Type: "string", Description: "RFC 3339 time, inclusive (default: 24 hours ago, or the range)"},
				{Name: "range", In: "query", Type: "string", Description: "24h, 7d, 30d or all, instead of since (the web UI's queue filter)"},
				{Name: "level", In: "query", Type: "string", Description: "levels, repeated or comma-separated"},
				{Name: "status", In: "query", Type: "string", Description: "statuses, repeated or comma-separated"},
				{Name: "rule", In: "query", Type: "string", Description: "rule id"},
				{Name: "limit", In: "query", Type: "integer", Description: "at most this many findings (default 1000, at most 10000)"},
			},
			Summary: "Findings as JSON lines in Elastic Common Schema field names, newest first, for SIEMs that pull", Handler: a.exportFindings},
	}
}

func (a *API) triageFindings(w http.ResponseWriter, r *http.Request) {
	var req triageRequest
	if !a.decodeAdmin(w, r, &req) {
		return
	}
	p, _ := PrincipalOf(r)
	ch := triage.Change{IDs: req.IDs, Status: req.Status, Comment: req.Comment}
	if req.Assignee != nil {
		ch.Assignee, ch.Unassign = *req.Assignee, *req.Assignee == ""
	}
	res, err := a.d.Triage.Apply(r.Context(), p.Username, ch)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	target := ""
	if len(req.IDs) == 1 {
		target = req.IDs[0]
	}
	Audit(r, target, req)
	writeJSON(w, http.StatusOK, res)
}

func (a *API) listComments(w http.ResponseWriter, r *http.Request) {
	cs, err := a.d.Workbench.Comments(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, commentList{Comments: append([]store.Comment{}, cs...)})
}

func (a *API) commentFinding(w http.ResponseWriter, r *http.Request) {
	var req commentRequest
	if !a.decodeAdmin(w, r, &req) {
		return
	}
	p, _ := PrincipalOf(r)
	id := r.PathValue("id")
	res, err := a.d.Triage.Apply(r.Context(), p.Username, triage.Change{IDs: []string{id}, Comment: req.Text})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	Audit(r, id, nil)
	writeJSON(w, http.StatusCreated, res)
}

func (a *API) listSuppressions(w http.ResponseWriter, r *http.Request) {
	sups, err := a.d.Workbench.ListSuppressions(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, suppressionList{Suppressions: append([]store.Suppression{}, sups...)})
}

func (a *API) createSuppression(w http.ResponseWriter, r *http.Request) {
	var req suppressionRequest
	if !a.decodeAdmin(w, r, &req) {
		return
	}
	p, _ := PrincipalOf(r)
	sup, err := a.d.Triage.Suppress(r.Context(), p.Username, store.Suppression{Kind: req.Kind, RuleID: req.RuleID, HostID: req.HostID,
		Field: req.Field, Value: req.Value, Reason: req.Reason, ExpiresAt: req.ExpiresAt, FindingID: req.FindingID})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	Audit(r, sup.ID, sup)
	writeJSON(w, http.StatusCreated, sup)
}

func (a *API) deleteSuppression(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := a.d.Triage.Unsuppress(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	Audit(r, id, nil)
	w.WriteHeader(http.StatusNoContent)
}

// exportFindings streams findings as ECS JSON lines.
func (a *API) exportFindings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since := a.d.Now().Add(-24 * time.Hour)
	switch q.Get("range") {
	case "7d":
		since = a.d.Now().Add(-7 * 24 * time.Hour)
	case "30d":
		since = a.d.Now().Add(-30 * 24 * time.Hour)
	case "all":
		since = time.Time{}
	}
	filter := store.FindingFilter{RuleID: q.Get("rule")}
	for _, l := range q["level"] {
		filter.Levels = append(filter.Levels, strings.Split(l, ",")...)
	}
	for _, st := range q["status"] {
		filter.Statuses = append(filter.Statuses, strings.Split(st, ",")...)
	}
	if s := r.URL.Query().Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			writeError(w, &wire.Error{Code: wire.CodeBadRequest, Message: "since: want an RFC 3339 time", Field: "since"})
			return
		}
		since = t
	}
	limit := 1000
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, &wire.Error{Code: wire.CodeBadRequest, Message: "limit: want 1 to 10000", Field: "limit"})
			return
		}
		limit = n
	}
	names := map[string]string{}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	enc := json.NewEncoder(bw)
	cursor := ""
	for sent := 0; sent < limit; {
		filter.Since, filter.Page = since, store.Page{Limit: min(store.MaxLimit, limit-sent), Cursor: cursor}
		fs, next, err := a.d.Store.ListFindings(r.Context(), filter)
		if err != nil {
			if sent == 0 {
				a.fail(w, r, err)
			}
			return
		}
		for _, f := range fs {
			host := f.HostID
			if host != "" {
				if _, ok := names[host]; !ok {
					names[host] = host
					if h, err := a.d.Store.Host(r.Context(), host); err == nil {
						names[host] = h.Hostname
					}
				}
				host = names[host]
			}
			al := forward.Alert{ID: f.ID, RuleID: f.RuleID, RuleName: f.RuleName, Title: f.Title, Level: f.Level, Author: f.Author, Tags: f.Tags,
				Time: f.Time, HostID: f.HostID, Hostname: host, Group: f.Group, Count: f.Count, Correlation: f.Correlation, Evidence: len(f.EventIDs)}
			if err := enc.Encode(forward.ECS(&al)); err != nil {
				return
			}
			sent++
		}
		if next == "" || len(fs) == 0 {
			return
		}
		cursor = next
	}
}
