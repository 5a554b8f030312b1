package ui

import (
	"html/template"
	"time"

	"github.com/vigilhq/vigil/server/forward"
)

// The view models: what each template reads. Handlers fill them from the store; templates
// depend on nothing else.

// Base is what the layout needs on every page.
type Base struct {
	Title     string
	Nav       string // the active navigation entry
	User      *Viewer
	CSRF      string
	Flash     *Flash
	Crumbs    []Crumb
	NewCount  int  // new findings, shown beside "Findings"
	CanTriage bool // analyst or admin
	IsAdmin   bool
}

// Viewer is the signed-in user.
type Viewer struct {
	ID, Name, Role string
}

// Flash is a one-time message after a form post.
type Flash struct {
	Kind string // ok, err
	Text string
}

// Crumb is one step of the breadcrumbs.
type Crumb struct{ Name, Href string }

type option struct {
	Value, Label string
	On           bool
	N            int
}

type kv struct {
	Key, Value string
	Bad        bool
}

type hostRef struct{ ID, Hostname string }

type hostRow struct {
	ID, Hostname, OS, OSVersion, Arch string
	Risk, Open                        int
	LastSeen                          time.Time
	AgentVersion, EgressIP            string
	Online                            bool
	USB, Displays                     int
	HealthProblem, HealthShort        string
}

type clusterView struct {
	Kind, Value      string
	FindingID, Level string
	Office           bool
	Hosts            []hostRef
}

type topRule struct {
	RuleID, Title string
	Count, Pct    int
}

type overviewView struct {
	Base
	Days, Hosts, Online, Offline           int
	PolicyVersion                          int64
	Open, OpenCritical, New, Investigating int
	Levels                                 []string
	Chart                                  template.HTML
	TopRules                               []topRule
	AtRisk, OfflineHosts                   []hostRow
	Clusters                               []clusterView
}

type findingRow struct {
	ID, Title, RuleID, Level, Status, Assignee string
	Time                                       time.Time
}

type caseView struct {
	HostID, Hostname, OS string
	Count                int
	MaxLevel             string
	Latest               time.Time
	Findings             []findingRow
	More                 int
	MoreHref             string
}

type findingsView struct {
	Base
	Total                   int
	Query                   string // the filters as a query string, for the export link
	LevelChips, StatusChips []option
	Ranges, Rules           []option
	Host, Assignee          string
	Filtered                bool
	Back                    string // this page's URL, where bulk triage returns
	Cases                   []caseView
	From, To                int
	PrevHref, NextHref      string
}

type findingDetail struct {
	ID, Source, RuleID, Title, Level, Status, Author string
	Tags                                             []string
	Time                                             time.Time
	EventIDs                                         []string
	Group                                            map[string]string
	Count                                            int
}

type evidenceView struct {
	Category, Summary string
	Time              time.Time
	Fields            []kv
}

type tlItem struct {
	Time                           time.Time
	What, Detail, Class, Tag, Href string
}

type commentView struct {
	Author, Text string
	Time         time.Time
}

type ruleInfo struct {
	Title, Author, Description, Text string
}

type relatedRow struct {
	ID, Level, Title, Why string
	Time                  time.Time
}

type historyRow struct {
	Time        time.Time
	Actor, Text string
}

type findingView struct {
	Base
	Finding      findingDetail
	Assignee     string
	Hosts        []hostRow
	Statuses     []string
	Users        []string
	Evidence     []evidenceView
	Timeline     []tlItem
	TimelineHref string
	Comments     []commentView
	Rule         ruleInfo
	RuleHref     string
	FieldChoices []kv
	Related      []relatedRow
	History      []historyRow
}

type hostsView struct {
	Base
	Total, Online    int
	Interval         string
	Query, State, OS string
	OSes             []string
	Hosts            []hostRow
	NextHref         string
}

type invSection struct {
	Kind, Label string
	Time        time.Time
	Columns     []string
	Rows        [][]string
}

type hostView struct {
	Base
	Host          hostRow
	EnrolledAt    time.Time
	MachineID     string
	Findings      []findingRow
	Inventory     []invSection
	Facts         []kv
	Health        []kv
	HealthProblem string
	Shares        []clusterView
}

type dayGroup struct {
	Day   string
	Items []tlItem
}

type timelineView struct {
	Base
	HostID, Hostname, Category string
	Categories                 []string
	Ranges                     []option
	Days                       []dayGroup
	NextHref                   string
}

type fleetView struct {
	Base
	Window    string
	Tabs      []option
	KindLabel string
	Groups    []clusterView
}

type policyInfo struct {
	Version        int64
	Created        time.Time
	By             string
	OnHosts, Hosts int
}

type ruleSummary struct{ ID, Title, Level string }

type customFile struct {
	ID, Name string
	Rules    []ruleSummary
	Updated  time.Time
	By       string
}

type builtinRow struct {
	ID, Title, Level, Author string
	Disabled, Correlation    bool
}

type versionRow struct {
	Version     int64
	Created     time.Time
	By, Comment string
	Hosts       int
}

type rulesView struct {
	Base
	Policy       policyInfo
	Tab          string
	Custom       []customFile
	BuiltinCount int
	Builtin      []builtinRow
	Query        string
	Versions     []versionRow
}

type ruleEditView struct {
	Base
	Builtin, Disabled bool
	Title, RuleID     string
	ID, Name, Content string
	Problems          []string
	Sample            string
}

type auditRow struct {
	Time                                               time.Time
	Actor, Action, Target, TargetHref, Remote, Details string
}

type auditView struct {
	Base
	Actor, Action, Target string
	Actions               []string
	Entries               []auditRow
	NextHref              string
}

type secretView struct{ Label, Value string }

type tokenRow struct {
	ID, Name             string
	CreatedAt            time.Time
	ExpiresAt, RevokedAt *time.Time
}

type userRow struct {
	ID, Username, Role    string
	Disabled, HasPassword bool
	CreatedAt             time.Time
}

type enrollRow struct {
	ID, Name, CreatedBy string
	CreatedAt           time.Time
	RevokedAt           *time.Time
}

type networksForm struct{ CIDRs, MACs, BSSIDs string }

type destRow struct {
	Name, Type, Format, Target, FilterText, LastError string
	Enabled                                           bool
	Pending, Failing                                  int
}

type retentionRow struct {
	Table, Label string
	Days         int
}

type ssoInfo struct {
	Issuer, ClientID, RedirectURL, DefaultRole, AdminGroup string
}

type suppressionRow struct {
	ID, Scope, Reason, By, FindingID string
	Created, Expires                 time.Time
	Hits                             int64
	Expired                          bool
}

type settingsView struct {
	Base
	Tabs         []option
	Tab          string
	NewSecret    *secretView
	HasPassword  bool
	Tokens       []tokenRow
	Users        []userRow
	Roles        []string
	Secrets      []enrollRow
	Networks     networksForm
	Destinations []destRow
	Edit         forward.Config
	DestTypes    []option
	Transports   []string
	Levels       []string
	Retention    []retentionRow
	SSO          ssoInfo
	Suppressions []suppressionRow
}

type loginView struct {
	CSRF, Next, Username, Error, SSO string
}

type errorView struct {
	Base
	Heading, Message string
}
