// Package triage is what analysts decide about findings: the status workflow (new ->
// investigating -> resolved or false positive, and back to investigating to reopen), assignees,
// comments, and suppressions (this rule on this host, or a field value everywhere, until an
// expiry) that the ingest applies to new findings. The web UI and the API both call Service,
// so the same rules hold whichever way an analyst works; the audit log records each change
// (the API's route wrapper for API calls, the UI for its forms).
package triage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/server/store"
)

// Store is what triage needs of the store.
type Store interface {
	store.Findings
	store.Events
	store.Triage
}

// Statuses, in workflow order.
var Statuses = []string{store.StatusNew, store.StatusInvestigating, store.StatusResolved, store.StatusFalsePositive}

// next lists the statuses each status may move to (staying put is always allowed).
var next = map[string][]string{
	store.StatusNew:           {store.StatusInvestigating, store.StatusResolved, store.StatusFalsePositive},
	store.StatusInvestigating: {store.StatusNew, store.StatusResolved, store.StatusFalsePositive},
	store.StatusResolved:      {store.StatusInvestigating},
	store.StatusFalsePositive: {store.StatusInvestigating},
}

// CanMove reports whether a finding may go from one status to another.
func CanMove(from, to string) bool { return from == to || slices.Contains(next[from], to) }

// Limits of what an analyst types.
const (
	MaxComment        = 10000
	MaxReason         = 500
	MaxSuppressionAge = 366 * 24 * time.Hour
)

// Service applies triage.
type Service struct {
	st  Store
	log hclog.Logger
	now func() time.Time

	mu       sync.Mutex
	cached   []store.Suppression
	cachedAt time.Time
}

// CacheFor bounds how long a new or deleted suppression may go unnoticed by the ingest of
// another replica.
const CacheFor = 10 * time.Second

// New returns a Service.
func New(st Store, log hclog.Logger, now func() time.Time) *Service {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, log: log.Named("triage"), now: now}
}

func badField(field, msg string) error {
	return &wire.Error{Code: wire.CodeBadRequest, Message: msg, Field: field}
}

// Change is one triage action on one or more findings; empty fields change nothing.
type Change struct {
	IDs    []string
	Status string
	// Assignee, when set, assigns the findings (to "" with Unassign).
	Assignee string
	Unassign bool
	Comment  string
}

// Result is what a Change did.
type Result struct {
	States []store.TriageState `json:"states"`
	// Comments added, one per finding.
	Comments int `json:"comments"`
}

// Apply checks and applies a change by actor. A status move the workflow does not allow, for
// any of the findings, refuses the whole change and names the finding.
func (s *Service) Apply(ctx context.Context, actor string, c Change) (Result, error) {
	var res Result
	if len(c.IDs) == 0 {
		return res, badField("ids", "no finding given")
	}
	if len(c.IDs) > 1000 {
		return res, badField("ids", "at most 1000 findings at once")
	}
	if c.Status != "" && !slices.Contains(Statuses, c.Status) {
		return res, badField("status", "want one of "+strings.Join(Statuses, ", "))
	}
	c.Comment = strings.TrimSpace(c.Comment)
	if len(c.Comment) > MaxComment {
		return res, badField("comment", fmt.Sprintf("longer than %d bytes", MaxComment))
	}
	if c.Status == "" && c.Assignee == "" && !c.Unassign && c.Comment == "" {
		return res, badField("status", "nothing to change: give a status, an assignee or a comment")
	}
	states, err := s.st.TriageStates(ctx, c.IDs)
	if err != nil {
		return res, err
	}
	for _, id := range c.IDs {
		st, ok := states[id]
		if !ok {
			return res, fmt.Errorf("finding %q: %w", id, store.ErrNotFound)
		}
		if c.Status != "" && !CanMove(st.Status, c.Status) {
			return res, &wire.Error{Code: wire.CodeConflict, Field: "status",
				Message: fmt.Sprintf("finding %s is %s: it can move to %s, not %s", id, st.Status, strings.Join(next[st.Status], " or "), c.Status)}
		}
	}
	now := s.now().UTC()
	if c.Status != "" || c.Assignee != "" || c.Unassign {
		ch := store.TriageChange{Actor: actor, Time: now}
		if c.Status != "" {
			ch.Status = &c.Status
		}
		if c.Assignee != "" || c.Unassign {
			ch.Assignee = &c.Assignee
		}
		if res.States, err = s.st.ChangeFindings(ctx, c.IDs, ch); err != nil {
			return res, err
		}
	}
	if c.Comment != "" {
		for _, id := range c.IDs {
			if _, err := s.st.AddComment(ctx, store.Comment{FindingID: id, Author: actor, Time: now, Text: c.Comment}); err != nil {
				return res, err
			}
			res.Comments++
		}
	}
	return res, nil
}

// Suppress checks and stores a suppression made by actor; the ingest applies it to new findings
// from then until it expires.
func (s *Service) Suppress(ctx context.Context, actor string, sup store.Suppression) (store.Suppression, error) {
	now := s.now().UTC()
	sup.Reason = strings.TrimSpace(sup.Reason)
	switch {
	case sup.Kind == store.SuppressRuleHost && (sup.RuleID == "" || sup.HostID == ""):
		return sup, badField("rule_id", "a rule_host suppression needs rule_id and host_id")
	case sup.Kind == store.SuppressField && (sup.Field == "" || sup.Value == ""):
		return sup, badField("field", "a field suppression needs field and value")
	case sup.Kind != store.SuppressRuleHost && sup.Kind != store.SuppressField:
		return sup, badField("kind", "want rule_host or field")
	case sup.Reason == "":
		return sup, badField("reason", "say why these findings are expected")
	case len(sup.Reason) > MaxReason:
		return sup, badField("reason", fmt.Sprintf("longer than %d bytes", MaxReason))
	case !sup.ExpiresAt.After(now):
		return sup, badField("expires_at", "must be in the future")
	case sup.ExpiresAt.After(now.Add(MaxSuppressionAge)):
		return sup, badField("expires_at", "at most a year ahead: suppressions must be reviewed")
	}
	if sup.Kind == store.SuppressRuleHost {
		sup.Field, sup.Value = "", ""
	} else {
		sup.RuleID, sup.HostID = "", ""
	}
	sup.ID = event.NewID()
	sup.CreatedBy, sup.CreatedAt, sup.Hits = actor, now, 0
	if err := s.st.CreateSuppression(ctx, sup); err != nil {
		return sup, err
	}
	s.forget()
	return sup, nil
}

// Unsuppress deletes a suppression.
func (s *Service) Unsuppress(ctx context.Context, id string) error {
	if err := s.st.DeleteSuppression(ctx, id); err != nil {
		return err
	}
	s.forget()
	return nil
}

func (s *Service) forget() {
	s.mu.Lock()
	s.cachedAt = time.Time{}
	s.mu.Unlock()
}

func (s *Service) active(ctx context.Context) ([]store.Suppression, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.cachedAt.IsZero() && now.Sub(s.cachedAt) < CacheFor {
		return s.cached, nil
	}
	sups, err := s.st.ActiveSuppressions(ctx, now)
	if err != nil {
		return nil, err
	}
	s.cached, s.cachedAt = sups, now
	return sups, nil
}

// Match returns the first active suppression that covers a new finding of host, given the
// fields of its evidence events, or nil.
func Match(sups []store.Suppression, f *store.Finding, now time.Time, evidence []map[string]any) *store.Suppression {
	for i := range sups {
		sp := &sups[i]
		if !sp.ExpiresAt.After(now) {
			continue
		}
		switch sp.Kind {
		case store.SuppressRuleHost:
			if sp.RuleID == f.RuleID && (sp.HostID == f.HostID || slices.Contains(f.Hosts, sp.HostID)) {
				return sp
			}
		case store.SuppressField:
			if f.Group[sp.Field] == sp.Value {
				return sp
			}
			for _, ev := range evidence {
				if fieldEquals(ev[sp.Field], sp.Value) {
					return sp
				}
			}
		}
	}
	return nil
}

// fieldEquals compares an event field with a suppression's value: strings exactly, numbers and
// booleans as their text, lists when one element matches.
func fieldEquals(v any, want string) bool {
	switch t := v.(type) {
	case nil:
		return false
	case string:
		return t == want
	case []any:
		return slices.ContainsFunc(t, func(x any) bool { return fieldEquals(x, want) })
	case []string:
		return slices.Contains(t, want)
	}
	return fmt.Sprint(v) == want
}

// Suppressed is a new finding closed by a suppression.
type Suppressed struct {
	Index         int // in the findings given
	SuppressionID string
}

// Screen marks the new findings that an active suppression covers as resolved, before they
// are stored, and returns which. events are the batch's events, for field suppressions; evidence
// not in the batch is read from the store.
func (s *Service) Screen(ctx context.Context, findings []store.Finding, events []store.Event) ([]Suppressed, error) {
	if len(findings) == 0 {
		return nil, nil
	}
	sups, err := s.active(ctx)
	if err != nil || len(sups) == 0 {
		return nil, err
	}
	needFields := slices.ContainsFunc(sups, func(sp store.Suppression) bool { return sp.Kind == store.SuppressField })
	byID := map[store.EvidenceRef]map[string]any{}
	if needFields {
		for _, e := range events {
			byID[store.EvidenceRef{HostID: e.HostID, EventID: e.ID}] = decodeFields(e.Fields)
		}
		var missing []store.EvidenceRef
		for _, f := range findings {
			for _, id := range f.EventIDs {
				ref := store.EvidenceRef{HostID: f.HostID, EventID: id}
				if _, ok := byID[ref]; !ok {
					missing = append(missing, ref)
				}
			}
		}
		if len(missing) > 0 {
			stored, err := s.st.EventsByID(ctx, missing)
			if err != nil {
				return nil, err
			}
			for _, e := range stored {
				byID[store.EvidenceRef{HostID: e.HostID, EventID: e.ID}] = decodeFields(e.Fields)
			}
		}
	}
	now := s.now()
	var out []Suppressed
	for i := range findings {
		f := &findings[i]
		var evidence []map[string]any
		for _, id := range f.EventIDs {
			if m := byID[store.EvidenceRef{HostID: f.HostID, EventID: id}]; m != nil {
				evidence = append(evidence, m)
			}
		}
		if sp := Match(sups, f, now, evidence); sp != nil {
			f.Status = store.StatusResolved
			out = append(out, Suppressed{Index: i, SuppressionID: sp.ID})
		}
	}
	return out, nil
}

// Record notes, after the findings were stored, which suppression closed each (shown on the
// finding) and counts the suppressions' hits.
func (s *Service) Record(ctx context.Context, findings []store.Finding, sup []Suppressed) error {
	hits := map[string][]string{}
	for _, x := range sup {
		hits[x.SuppressionID] = append(hits[x.SuppressionID], findings[x.Index].ID)
	}
	var errs []error
	for id, ids := range hits {
		_, err := s.st.ChangeFindings(ctx, ids, store.TriageChange{SuppressedBy: &id, Actor: "suppression", Time: s.now().UTC()})
		errs = append(errs, err, s.st.CountSuppressionHits(ctx, id, len(ids)))
	}
	return errors.Join(errs...)
}
