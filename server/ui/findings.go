package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/server/store"
	"github.com/vigilhq/vigil/server/triage"
)

var levels = []string{"critical", "high", "medium", "low", "informational"}

// ranges are the time ranges the filters offer.
var ranges = []struct {
	value, label string
	d            time.Duration
}{{"24h", "Last 24 hours", 24 * time.Hour}, {"7d", "Last 7 days", 7 * 24 * time.Hour}, {"30d", "Last 30 days", 30 * 24 * time.Hour}, {"all", "Any time", 0}}

func rangeOptions(sel string) ([]option, time.Duration) {
	var out []option
	var d time.Duration
	for _, r := range ranges {
		on := r.value == sel
		if on {
			d = r.d
		}
		out = append(out, option{Value: r.value, Label: r.label, On: on})
	}
	return out, d
}

// perPage is how many host groups the queue shows at once.
const perPage = 25

// queueFilter reads the queue's filters from the query string. With no status given, the
// queue shows open findings (new and investigating).
func queueFilter(q url.Values, now time.Time) (store.QueueFilter, string) {
	f := store.QueueFilter{Hosts: perPage, PerHost: 5}
	for _, l := range q["level"] {
		if slices.Contains(levels, l) {
			f.Levels = append(f.Levels, l)
		}
	}
	for _, s := range q["status"] {
		if slices.Contains(triage.Statuses, s) {
			f.Statuses = append(f.Statuses, s)
		}
	}
	if len(f.Statuses) == 0 && q.Get("status") == "" {
		f.Statuses = []string{store.StatusNew, store.StatusInvestigating}
	}
	f.RuleID = q.Get("rule")
	f.HostQuery = strings.TrimSpace(q.Get("host"))
	f.Assignee = q.Get("assignee")
	rg := q.Get("range")
	if rg == "" {
		rg = "all"
	}
	_, d := rangeOptions(rg)
	if d > 0 {
		f.Since = now.Add(-d)
	}
	if p, err := strconv.Atoi(q.Get("page")); err == nil && p > 1 && p < 100000 {
		f.Offset = (p - 1) * perPage
	}
	return f, rg
}

func (u *UI) findings(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	q := r.URL.Query()
	f, rg := queueFilter(q, u.cfg.Now())
	pg, err := u.st.FindingQueue(r.Context(), f)
	if err != nil {
		return err
	}
	c.newCount = -1
	if len(f.Levels) == 0 && f.RuleID == "" && f.HostQuery == "" && f.Assignee == "" && f.Since.IsZero() {
		c.newCount = pg.ByStatus[store.StatusNew]
	}
	v := findingsView{Base: c.base("findings", "Findings"), Total: pg.Findings, Host: f.HostQuery, Assignee: f.Assignee, Back: r.URL.RequestURI()}
	for _, l := range levels {
		v.LevelChips = append(v.LevelChips, option{Value: l, On: slices.Contains(f.Levels, l), N: pg.ByLevel[l]})
	}
	for _, s := range triage.Statuses {
		v.StatusChips = append(v.StatusChips, option{Value: s, On: slices.Contains(f.Statuses, s), N: pg.ByStatus[s]})
	}
	v.Ranges, _ = rangeOptions(rg)
	v.Rules = u.ruleOptions(f.RuleID)
	v.Filtered = len(q) > 0
	filters := url.Values{}
	for k, vs := range q {
		if k != "page" {
			filters[k] = vs
		}
	}
	v.Query = filters.Encode()
	for _, g := range pg.Groups {
		cv := caseView{HostID: g.HostID, Hostname: g.Hostname, OS: g.OS, Count: g.Count, MaxLevel: g.Worst, Latest: g.Latest}
		if g.HostID == "" {
			cv.Hostname = "Fleet (laptop farms)"
		}
		for _, it := range g.Findings {
			cv.Findings = append(cv.Findings, findingRow{ID: it.ID, Title: it.Title, RuleID: it.RuleID, Level: it.Level, Status: it.Status, Assignee: it.Assignee, Time: it.Time})
		}
		if more := g.Count - len(g.Findings); more > 0 && g.HostID != "" {
			mq := url.Values{}
			for k, vs := range filters {
				mq[k] = vs
			}
			mq.Set("host", g.Hostname)
			cv.More, cv.MoreHref = more, "/findings?"+mq.Encode()
		}
		v.Cases = append(v.Cases, cv)
	}
	page := f.Offset/perPage + 1
	v.From, v.To = f.Offset+1, f.Offset+len(pg.Groups)
	link := func(p int) string {
		lq := url.Values{}
		for k, vs := range filters {
			lq[k] = vs
		}
		if p > 1 {
			lq.Set("page", strconv.Itoa(p))
		}
		return "/findings?" + lq.Encode()
	}
	if page > 1 {
		v.PrevHref = link(page - 1)
	}
	if pg.More {
		v.NextHref = link(page + 1)
	}
	return u.r.render(w, http.StatusOK, "findings", v)
}

// ruleOptions lists every rule (built-in and custom, by title) for the rule filter.
func (u *UI) ruleOptions(sel string) []option {
	var out []option
	for _, ri := range u.cfg.Policy.Builtin() {
		if ri.Silent {
			continue
		}
		out = append(out, option{Value: ri.ID, Label: ri.Title, On: ri.ID == sel})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Label < out[j].Label })
	if sel != "" && !slices.ContainsFunc(out, func(o option) bool { return o.On }) {
		out = append([]option{{Value: sel, Label: sel, On: true}}, out...)
	}
	return out
}

// bulkTriage applies one status (or assigns to the caller) to the findings ticked in the queue.
func (u *UI) bulkTriage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := r.ParseForm(); err != nil {
		return &wire.Error{Code: wire.CodeBadRequest, Message: "unreadable form"}
	}
	ch := triage.Change{IDs: r.PostForm["id"], Status: r.PostFormValue("status")}
	if r.PostFormValue("assign_me") != "" {
		ch.Status, ch.Assignee = "", c.user.Username
	}
	back := r.PostFormValue("back")
	if len(ch.IDs) == 0 {
		return c.redirect(w, back, "err", "Select findings first (x, or the boxes).")
	}
	res, err := u.cfg.Triage.Apply(r.Context(), c.user.Username, ch)
	if err != nil {
		return err
	}
	u.auditTriage(c, ch, res)
	what := "assigned to you"
	if ch.Status != "" {
		what = "marked " + statusLabel(ch.Status)
	}
	return c.redirect(w, back, "ok", fmt.Sprintf("%d finding%s %s.", len(res.States), plural(len(res.States)), what))
}

// auditTriage writes one audit entry per finding and action, so that a finding's history is
// complete whichever way it was triaged.
func (u *UI) auditTriage(c *reqCtx, ch triage.Change, res triage.Result) {
	for _, id := range ch.IDs {
		if ch.Status != "" {
			c.audit("setFindingStatus", id, map[string]string{"status": ch.Status})
		}
		if ch.Assignee != "" || ch.Unassign {
			c.audit("assignFinding", id, map[string]string{"assignee": ch.Assignee})
		}
		if ch.Comment != "" {
			c.audit("commentFinding", id, map[string]string{"comment": truncate(ch.Comment, 200)})
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// triageOne applies the finding page's form: a status, an assignee, a comment.
func (u *UI) triageOne(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	id := r.PathValue("id")
	ch := triage.Change{IDs: []string{id}, Status: r.PostFormValue("status"), Comment: r.PostFormValue("comment")}
	if r.PostFormValue("assign") != "" {
		ch.Status = ""
		ch.Assignee = r.PostFormValue("assignee")
		ch.Unassign = ch.Assignee == ""
	}
	res, err := u.cfg.Triage.Apply(r.Context(), c.user.Username, ch)
	if err != nil {
		return err
	}
	u.auditTriage(c, ch, res)
	msg := "Saved."
	switch {
	case ch.Status != "" && ch.Comment != "":
		msg = "Comment added; marked " + statusLabel(ch.Status) + "."
	case ch.Status != "":
		msg = "Marked " + statusLabel(ch.Status) + "."
	case ch.Comment != "":
		msg = "Comment added."
	}
	return c.redirect(w, "/findings/"+url.PathEscape(id), "ok", msg)
}

func (u *UI) createSuppression(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	f, err := u.st.Finding(r.Context(), r.PostFormValue("finding"))
	if err != nil {
		return err
	}
	d, err := time.ParseDuration(r.PostFormValue("expires"))
	if err != nil {
		return &wire.Error{Code: wire.CodeBadRequest, Message: "expiry: " + err.Error(), Field: "expires"}
	}
	sup := store.Suppression{Kind: r.PostFormValue("scope"), Reason: r.PostFormValue("reason"), FindingID: f.ID, ExpiresAt: u.cfg.Now().Add(d)}
	if sup.Kind == store.SuppressRuleHost {
		sup.RuleID, sup.HostID = f.RuleID, f.HostID
		if sup.HostID == "" && len(f.Hosts) > 0 {
			sup.HostID = f.Hosts[0]
		}
	} else {
		sup.Field, sup.Value = r.PostFormValue("field"), r.PostFormValue("value")
	}
	sup, err = u.cfg.Triage.Suppress(r.Context(), c.user.Username, sup)
	if err != nil {
		return err
	}
	c.audit("createSuppression", sup.ID, sup)
	return c.redirect(w, "/findings/"+url.PathEscape(f.ID), "ok", "Suppressed until "+sup.ExpiresAt.Local().Format("2 Jan 2006 15:04")+": new matching findings arrive resolved.")
}

func (u *UI) deleteSuppression(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := u.cfg.Triage.Unsuppress(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	c.audit("deleteSuppression", r.PathValue("id"), nil)
	return c.redirect(w, "/settings/suppressions", "ok", "Suppression deleted.")
}

// search sends a query to the page it names: a finding id, a host, or the queue filtered.
func (u *UI) search(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if q == "" {
		return c.redirect(w, "/findings", "", "")
	}
	if _, err := u.st.Finding(r.Context(), q); err == nil {
		return c.redirect(w, "/findings/"+url.PathEscape(q), "", "")
	}
	if _, err := u.st.Host(r.Context(), q); err == nil {
		return c.redirect(w, "/hosts/"+url.PathEscape(q), "", "")
	}
	hosts, _, err := u.st.ListHosts(r.Context(), store.HostFilter{Query: q, Page: store.Page{Limit: 2}})
	if err == nil && len(hosts) == 1 {
		return c.redirect(w, "/hosts/"+url.PathEscape(hosts[0].ID), "", "")
	}
	for _, ri := range u.cfg.Policy.Builtin() {
		if ri.ID == q || ri.Name == q {
			return c.redirect(w, "/findings?rule="+url.QueryEscape(ri.ID), "", "")
		}
	}
	return c.redirect(w, "/findings?host="+url.QueryEscape(q), "", "")
}

// health is an agent's last health report.
func health(raw json.RawMessage) (wire.Health, bool) {
	var h wire.Health
	if len(raw) == 0 || string(raw) == "null" || json.Unmarshal(raw, &h) != nil {
		return h, false
	}
	return h, true
}

// healthProblem summarises what is wrong with an agent, short and long ("" when healthy).
func healthProblem(h wire.Health) (short, long string) {
	var parts []string
	if h.QueueDropped > 0 {
		parts = append(parts, fmt.Sprintf("queue dropped %d items", h.QueueDropped))
		short = "queue losses"
	}
	if h.EventsDropped > 0 {
		parts = append(parts, fmt.Sprintf("%d events dropped", h.EventsDropped))
		if short == "" {
			short = "events dropped"
		}
	}
	if h.SelfLimitState != "" {
		parts = append(parts, "self-limiting now: "+h.SelfLimitState)
		short = "self-limiting"
	} else if h.SelfLimited > 0 {
		parts = append(parts, fmt.Sprintf("self-limited %d times", h.SelfLimited))
		if short == "" {
			short = "self-limited"
		}
	}
	if h.PolicyError != "" {
		parts = append(parts, "policy refused: "+h.PolicyError)
		short = "policy refused"
	}
	return short, strings.Join(parts, "; ")
}

// hostRows turns hosts into table rows with their risk and health.
func (u *UI) hostRows(ctx context.Context, hosts []store.Host) ([]hostRow, error) {
	ids := make([]string, len(hosts))
	for i, h := range hosts {
		ids[i] = h.ID
	}
	risks, err := u.st.HostRisks(ctx, ids)
	if err != nil {
		return nil, err
	}
	offline := u.cfg.Now().Add(-3 * u.cfg.CheckinInterval)
	out := make([]hostRow, len(hosts))
	for i, h := range hosts {
		row := hostRow{ID: h.ID, Hostname: h.Hostname, OS: h.OS, OSVersion: h.OSVersion, Arch: h.Arch, LastSeen: h.LastSeen,
			AgentVersion: h.AgentVersion, EgressIP: h.EgressIP, Online: h.LastSeen.After(offline),
			Risk: risks[h.ID].Score, Open: risks[h.ID].Open}
		if hh, ok := health(h.Health); ok {
			row.HealthShort, row.HealthProblem = healthProblem(hh)
		}
		out[i] = row
	}
	return out, nil
}
