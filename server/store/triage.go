package store

import (
	"context"
	"time"
)

// Comment is an analyst's note on a finding.
type Comment struct {
	ID        int64     `json:"id"`
	FindingID string    `json:"finding_id"`
	Author    string    `json:"author"`
	Time      time.Time `json:"time"`
	Text      string    `json:"text"`
}

// Suppression kinds.
const (
	// SuppressRuleHost suppresses one rule's new findings on one host.
	SuppressRuleHost = "rule_host"
	// SuppressField suppresses new findings, of any rule on any host, whose evidence has the
	// field with the value.
	SuppressField = "field"
)

// Suppression closes matching new findings on arrival until it expires.
type Suppression struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	RuleID string `json:"rule_id,omitempty"` // rule_host
	HostID string `json:"host_id,omitempty"` // rule_host
	Field  string `json:"field,omitempty"`   // field
	Value  string `json:"value,omitempty"`   // field
	Reason string `json:"reason"`
	// FindingID is the finding it was made from, if any.
	FindingID string    `json:"finding_id,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Hits counts the findings it closed.
	Hits int64 `json:"hits"`
}

// TriageChange is one triage action on a finding; nil fields are left as they are.
type TriageChange struct {
	Status   *string
	Assignee *string
	// SuppressedBy is set by the ingest for findings a suppression closed.
	SuppressedBy *string
	Actor        string
	Time         time.Time
}

// TriageState is what triage adds to a finding.
type TriageState struct {
	FindingID    string    `json:"finding_id"`
	Status       string    `json:"status"`
	Assignee     string    `json:"assignee,omitempty"`
	SuppressedBy string    `json:"suppressed_by,omitempty"`
	UpdatedAt    time.Time `json:"updated_at,omitempty"`
	UpdatedBy    string    `json:"updated_by,omitempty"`
}

// Triage stores what analysts decide about findings.
type Triage interface {
	// ChangeFindings applies a change to findings by id (every stored finding with the id),
	// returning the state of each found; unknown ids are left out.
	ChangeFindings(ctx context.Context, ids []string, c TriageChange) ([]TriageState, error)
	// TriageStates returns the triage state of findings by id.
	TriageStates(ctx context.Context, ids []string) (map[string]TriageState, error)
	// AddComment stores a comment, returning it with its id.
	AddComment(ctx context.Context, c Comment) (Comment, error)
	// Comments returns a finding's comments, oldest first.
	Comments(ctx context.Context, findingID string) ([]Comment, error)
	// CreateSuppression stores a suppression.
	CreateSuppression(ctx context.Context, s Suppression) error
	// ActiveSuppressions returns the suppressions not expired at now, newest first.
	ActiveSuppressions(ctx context.Context, now time.Time) ([]Suppression, error)
	// ListSuppressions returns every suppression, newest first.
	ListSuppressions(ctx context.Context) ([]Suppression, error)
	// DeleteSuppression removes one (ErrNotFound when unknown).
	DeleteSuppression(ctx context.Context, id string) error
	// CountSuppressionHits adds n to a suppression's hit count.
	CountSuppressionHits(ctx context.Context, id string, n int) error
}

// QueueFilter selects the findings of the triage queue, grouped by host.
type QueueFilter struct {
	Levels, Statuses []string
	RuleID           string
	// HostQuery matches a substring of the hostname (fleet findings: of any host they name).
	HostQuery string
	Assignee  string
	Since     time.Time
	// Hosts is how many host groups a page holds (default 25, at most 200); PerHost how many
	// findings of each group it lists (default 5, at most 50).
	Hosts, PerHost int
	// Offset skips that many groups.
	Offset int
}

// QueueGroup is one host's case: its matching findings, worst and newest first. Groups come
// worst level first, then by their newest finding of that level.
type QueueGroup struct {
	// HostID is "" for the group of fleet findings.
	HostID, Hostname, OS string
	Count                int
	// Worst is the highest level among them.
	Worst    string
	Latest   time.Time
	Findings []QueueItem
}

// QueueItem is a finding as the queue lists it.
type QueueItem struct {
	ID, RuleID, RuleName, Title, Level, Status, Assignee string
	Time                                                 time.Time
}

// QueuePage is one page of the queue.
type QueuePage struct {
	Groups []QueueGroup
	// More says there are groups after this page.
	More bool
	// Findings counts everything the filter matches.
	Findings int
	// ByLevel counts matching findings per level ignoring the level filter, ByStatus per
	// status ignoring the status filter: the filter chips' numbers.
	ByLevel, ByStatus map[string]int
}

// Queue serves the triage queue.
type Queue interface {
	FindingQueue(ctx context.Context, f QueueFilter) (QueuePage, error)
}

// RiskWeights are what one open finding of each level adds to its host's risk score (capped at
// 100): a critical finding alone makes a host worth a look, a dozen low ones too.
var RiskWeights = map[string]int{"critical": 40, "high": 20, "medium": 8, "low": 3, "informational": 1}

// HostRisk is a host's open findings (new or investigating) and its risk score.
type HostRisk struct {
	HostID string
	Open   int
	Score  int
}

// DayCount counts findings of one UTC day by level.
type DayCount struct {
	Day     time.Time
	ByLevel map[string]int
}

// RuleCount counts one rule's findings.
type RuleCount struct {
	RuleID, Title string
	Count         int
}

// OverviewStats is what the overview page shows.
type OverviewStats struct {
	// Days has one entry per UTC day from since to now, oldest first.
	Days []DayCount
	// TopRules are the rules with most findings since then, most first.
	TopRules []RuleCount
	// Open counts open findings by level; New and Investigating by status.
	Open               map[string]int
	New, Investigating int
	// AtRisk are the hosts with the highest risk scores, highest first.
	AtRisk []HostRisk
}

// Stats reads the overview's aggregates and the hosts' risk.
type Stats interface {
	Overview(ctx context.Context, since, now time.Time, top int) (OverviewStats, error)
	// HostRisks returns the risk of the hosts named (hosts without open findings are left out).
	HostRisks(ctx context.Context, hostIDs []string) (map[string]HostRisk, error)
	// CountNew counts the findings waiting for triage (status new).
	CountNew(ctx context.Context) (int, error)
	// AgentQueues sums the agents' last reported queue items and queue drops.
	AgentQueues(ctx context.Context) (items, dropped int64, err error)
	// PolicyVersionsInUse counts hosts by the policy version their agent last reported.
	PolicyVersionsInUse(ctx context.Context) (map[int64]int, error)
}
