package ui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/server/store"
	"github.com/vigilhq/vigil/server/triage"
)

// maxEvidenceShown bounds the evidence events a finding's page lists.
const maxEvidenceShown = 20

// summaryFields name, per category, the field that best says what an event was.
var summaryFields = map[string][]string{
	event.ProcessCreation:   {"CommandLine", "Image"},
	event.NetworkConnection: {"DestinationHostname", "DestinationIp"},
	event.FileEvent:         {"TargetFilename"},
	event.USBDevice:         {"Product", "Manufacturer", "VendorId"},
	event.Display:           {"MonitorName", "EdidProduct"},
	event.RemovableMedia:    {"Label", "MountPoint"},
}

func fieldsOf(raw json.RawMessage) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

func summary(category string, fields map[string]any) string {
	for _, k := range summaryFields[category] {
		if v, ok := fields[k]; ok && v != nil && fmt.Sprint(v) != "" {
			return truncate(fmt.Sprint(v), 160)
		}
	}
	return category
}

func kvs(fields map[string]any) []kv {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]kv, 0, len(keys))
	for _, k := range keys {
		out = append(out, kv{Key: k, Value: display(fields[k])})
	}
	return out
}

// display renders a field value: strings as they are, the rest as compact JSON.
func display(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func (u *UI) finding(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ctx := r.Context()
	f, err := u.st.Finding(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	v := findingView{Base: c.base("findings", f.Title, Crumb{Name: "Findings", Href: "/findings"}, Crumb{Name: f.Title}),
		Finding: findingDetail{ID: f.ID, Source: f.Source, RuleID: f.RuleID, Title: f.Title, Level: f.Level, Status: f.Status,
			Author: f.Author, Tags: f.Tags, Time: f.Time, EventIDs: f.EventIDs, Group: f.Group, Count: f.Count},
		Statuses: triage.Statuses}
	states, err := u.st.TriageStates(ctx, []string{f.ID})
	if err != nil {
		return err
	}
	st := states[f.ID]
	v.Assignee = st.Assignee
	if users, err := u.st.ListUsers(ctx); err == nil {
		for _, us := range users {
			if !us.Disabled && us.Role != "viewer" {
				v.Users = append(v.Users, us.Username)
			}
		}
	}
	// hosts
	hostIDs := f.Hosts
	if len(hostIDs) == 0 && f.HostID != "" {
		hostIDs = []string{f.HostID}
	}
	var hosts []store.Host
	for _, id := range hostIDs {
		if h, err := u.st.Host(ctx, id); err == nil {
			hosts = append(hosts, h)
		}
	}
	if v.Hosts, err = u.hostRows(ctx, hosts); err != nil {
		return err
	}
	if f.HostID != "" {
		v.TimelineHref = "/hosts/" + url.PathEscape(f.HostID) + "/timeline"
	}
	// evidence
	refs := make([]store.EvidenceRef, 0, min(len(f.EventIDs), maxEvidenceShown))
	for _, id := range f.EventIDs[:min(len(f.EventIDs), maxEvidenceShown)] {
		refs = append(refs, store.EvidenceRef{HostID: f.HostID, EventID: id})
	}
	evs, err := u.st.EventsByID(ctx, refs)
	if err != nil {
		return err
	}
	seenField := map[string]bool{}
	for _, e := range evs {
		fields := fieldsOf(e.Fields)
		v.Evidence = append(v.Evidence, evidenceView{Category: e.Category, Summary: summary(e.Category, fields), Time: e.Time, Fields: kvs(fields)})
		v.Timeline = append(v.Timeline, tlItem{Time: e.Time, What: e.Category + ": " + summary(e.Category, fields), Class: "tl-event"})
		for _, k := range []string{"Image", "CommandLine", "DestinationHostname", "DestinationIp", "TargetFilename", "VendorId", "Product", "Serial", "MonitorName", "EdidSerial"} {
			if val, ok := fields[k].(string); ok && val != "" && !seenField[k] {
				seenField[k] = true
				v.FieldChoices = append(v.FieldChoices, kv{Key: k, Value: val})
			}
		}
	}
	for k, val := range f.Group {
		if !seenField[k] {
			v.FieldChoices = append(v.FieldChoices, kv{Key: k, Value: val})
		}
	}
	// rule
	if src, ok := u.cfg.Policy.Source(ctx, f.RuleID); ok {
		v.Rule = ruleInfo{Title: src.Title, Author: src.Author, Text: src.Text}
		if src.Builtin {
			v.RuleHref = "/rules/builtin/" + url.PathEscape(src.ID)
		}
	} else {
		v.Rule = ruleInfo{Title: f.Title, Author: f.Author}
	}
	for _, ri := range u.cfg.Policy.Builtin() {
		if ri.ID == f.RuleID {
			v.Rule.Description = ri.Description
		}
	}
	// related: the host's other findings, then the rule's on other hosts
	var related []store.Finding
	if f.HostID != "" {
		byHost, _, err := u.st.ListFindings(ctx, store.FindingFilter{HostID: f.HostID, Page: store.Page{Limit: 6}})
		if err != nil {
			return err
		}
		related = append(related, byHost...)
	}
	byRule, _, err := u.st.ListFindings(ctx, store.FindingFilter{RuleID: f.RuleID, Page: store.Page{Limit: 6}})
	if err != nil {
		return err
	}
	seen := map[string]bool{f.ID: true}
	for _, rf := range append(related, byRule...) {
		if seen[rf.ID] || len(v.Related) >= 8 {
			continue
		}
		seen[rf.ID] = true
		why := "same rule"
		if rf.HostID == f.HostID && f.HostID != "" {
			why = "same host"
		}
		v.Related = append(v.Related, relatedRow{ID: rf.ID, Level: rf.Level, Title: rf.Title, Why: why, Time: rf.Time})
	}
	// comments and history
	comments, err := u.st.Comments(ctx, f.ID)
	if err != nil {
		return err
	}
	for _, cm := range comments {
		v.Comments = append(v.Comments, commentView{Author: cm.Author, Text: cm.Text, Time: cm.Time})
	}
	entries, _, err := u.st.ListAudit(ctx, store.AuditFilter{Target: f.ID, Page: store.Page{Limit: 50}})
	if err != nil {
		return err
	}
	for _, e := range entries {
		text := historyText(e)
		v.History = append(v.History, historyRow{Time: e.Time, Actor: e.Actor, Text: text})
		v.Timeline = append(v.Timeline, tlItem{Time: e.Time, What: e.Actor + " " + text, Class: "tl-triage"})
	}
	if st.SuppressedBy != "" {
		v.History = append(v.History, historyRow{Time: f.Received, Actor: "suppression", Text: "closed it on arrival (" + st.SuppressedBy + ")"})
	}
	v.Timeline = append(v.Timeline, tlItem{Time: f.Time, What: "Finding raised: " + f.Title, Class: "tl-finding tl-" + f.Level + " current"})
	sort.SliceStable(v.Timeline, func(i, j int) bool { return v.Timeline[i].Time.Before(v.Timeline[j].Time) })
	return u.r.render(w, http.StatusOK, "finding", v)
}

// historyText says what an audit entry did to a finding.
func historyText(e store.AuditEntry) string {
	var d map[string]string
	_ = json.Unmarshal(e.Details, &d)
	switch e.Action {
	case "setFindingStatus":
		return "set the status to " + statusLabel(d["status"])
	case "assignFinding":
		if d["assignee"] == "" {
			return "unassigned it"
		}
		return "assigned it to " + d["assignee"]
	case "commentFinding":
		return "commented"
	case "createSuppression":
		return "suppressed findings like it"
	}
	return strings.TrimSpace(e.Action)
}
