package ui

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/server/forward"
	"github.com/vigilhq/vigil/server/ui/chart"
)

// samplePages fills every page's view with realistic data, so that each template is executed
// over every branch that has data.
func samplePages(now time.Time) map[string]any {
	base := func(nav, title string) Base {
		return Base{Title: title, Nav: nav, User: &Viewer{Name: "alice", Role: "analyst"}, CSRF: "tok<en>", NewCount: 12,
			CanTriage: true, IsAdmin: true, Crumbs: []Crumb{{Name: "Findings", Href: "/findings"}, {Name: title}},
			Flash: &Flash{Kind: "ok", Text: "Saved."}}
	}
	h := hostRow{ID: "h1", Hostname: "laptop-42", OS: "linux", OSVersion: "Debian 12", Risk: 82, Open: 3, LastSeen: now.Add(-3 * time.Minute),
		AgentVersion: "1.0.0", EgressIP: "198.51.100.7", Online: true, USB: 4, Displays: 2, HealthProblem: "queue dropped 12 items", HealthShort: "queue losses"}
	cl := clusterView{Kind: "Gateway MAC", Value: "aa:bb:cc:00:11:22", FindingID: "ff1", Level: "high",
		Hosts: []hostRef{{"h1", "laptop-42"}, {"h2", "laptop-43"}, {"h3", "laptop-44"}}}
	fr := findingRow{ID: "f1", Title: "AnyDesk started", RuleID: "vigil-rmm-anydesk", Level: "high", Status: "new", Assignee: "bob", Time: now.Add(-time.Hour)}
	levels := []string{"critical", "high", "medium", "low", "informational"}
	return map[string]any{
		"overview": overviewView{Base: base("overview", "Overview"), Days: 14, Hosts: 120, Online: 117, Offline: 3, PolicyVersion: 4,
			Open: 40, OpenCritical: 5, New: 30, Investigating: 10, Levels: levels,
			Chart:    chart.Stacked{Title: "Findings", Labels: []string{"1 Dec", "2 Dec"}, Series: []chart.Series{{Name: "high", Class: "lvl-high", Values: []float64{3, 5}}}}.SVG(),
			TopRules: []topRule{{"vigil-rmm-anydesk", "AnyDesk started", 12, 100}}, AtRisk: []hostRow{h}, OfflineHosts: []hostRow{h}, Clusters: []clusterView{cl}},
		"findings": findingsView{Base: base("findings", "Findings"), Total: 5, Query: "level=high",
			LevelChips: []option{{Value: "high", On: true, N: 4}}, StatusChips: []option{{Value: "new", N: 5}},
			Ranges: []option{{Value: "7d", Label: "Last 7 days", On: true}}, Rules: []option{{Value: "vigil-rmm-anydesk", Label: "AnyDesk started"}},
			Host: "laptop", Filtered: true, Back: "/findings?level=high",
			Cases: []caseView{{HostID: "h1", Hostname: "laptop-42", OS: "linux", Count: 7, MaxLevel: "high", Latest: now, Findings: []findingRow{fr}, More: 6, MoreHref: "/findings?host=laptop-42"},
				{Hostname: "Fleet", Count: 1, MaxLevel: "critical", Latest: now, Findings: []findingRow{fr}}},
			From: 1, To: 2, NextHref: "/findings?page=2", PrevHref: "/findings"},
		"finding": findingView{Base: base("findings", "AnyDesk started"),
			Finding: findingDetail{ID: "f1", Source: "fleet", RuleID: "vigil-rmm-anydesk", Title: "AnyDesk started", Level: "high", Status: "investigating",
				Author: "Vigil", Tags: []string{"attack.t1219"}, Time: now, EventIDs: []string{"e1", "e2"}, Group: map[string]string{"DefaultGatewayMac": "aa:bb"}, Count: 3},
			Assignee: "bob", Hosts: []hostRow{h}, Statuses: []string{"new", "investigating", "resolved", "false_positive"}, Users: []string{"alice", "bob"},
			Evidence:     []evidenceView{{Category: "process_creation", Summary: "/usr/bin/anydesk", Time: now, Fields: []kv{{Key: "Image", Value: "/usr/bin/anydesk"}}}},
			Timeline:     []tlItem{{Time: now, What: "Finding raised", Class: "tl-finding tl-high current"}, {Time: now, What: "process_creation", Detail: "anydesk --service"}},
			TimelineHref: "/hosts/h1/timeline", Comments: []commentView{{Author: "bob", Text: "Looking <b>into</b> it", Time: now}},
			Rule: ruleInfo{Title: "AnyDesk", Author: "Vigil", Description: "Remote access", Text: "title: AnyDesk\n"}, RuleHref: "/rules/builtin/vigil-rmm-anydesk",
			FieldChoices: []kv{{Key: "Image", Value: "/usr/bin/anydesk"}}, Related: []relatedRow{{ID: "f2", Level: "low", Title: "USB", Why: "same host", Time: now}},
			History: []historyRow{{Time: now, Actor: "bob", Text: "set status investigating"}}},
		"hosts": hostsView{Base: base("hosts", "Hosts"), Total: 1, Online: 1, Interval: "1m0s", Query: "lap", State: "online", OS: "linux",
			OSes: []string{"linux", "macos"}, Hosts: []hostRow{h}, NextHref: "/hosts?cursor=x"},
		"host": hostView{Base: base("hosts", "laptop-42"), Host: h, EnrolledAt: now.Add(-72 * time.Hour), MachineID: "m-1", Findings: []findingRow{fr},
			Inventory: []invSection{{Kind: "usb_device", Label: "USB devices", Time: now, Columns: []string{"VendorId", "Product"}, Rows: [][]string{{"1d6b", "PiKVM"}}}},
			Facts:     []kv{{Key: "DefaultGatewayMac", Value: "aa:bb"}}, Health: []kv{{Key: "Queue dropped", Value: "12", Bad: true}}, HealthProblem: "queue losses", Shares: []clusterView{cl}},
		"timeline": timelineView{Base: base("hosts", "Timeline"), HostID: "h1", Hostname: "laptop-42", Category: "usb_device", Categories: []string{"usb_device"},
			Ranges: []option{{Value: "24h", Label: "24 h", On: true}}, Days: []dayGroup{{Day: "Mon 1 Dec", Items: []tlItem{{Time: now, What: "PiKVM attached", Tag: "usb_device", Href: "/x"}}}}, NextHref: "/x"},
		"fleet": fleetView{Base: base("fleet", "Fleet"), Window: "24 h", Tabs: []option{{Value: "mac", Label: "Gateway MAC", On: true, N: 1}}, KindLabel: "Gateway MAC",
			Groups: []clusterView{cl, {Kind: "Gateway MAC", Value: "office", Office: true, Hosts: cl.Hosts}}},
		"rules": rulesView{Base: base("rules", "Rules"), Policy: policyInfo{Version: 3, Created: now, By: "admin", OnHosts: 100, Hosts: 120}, Tab: "custom",
			Custom: []customFile{{ID: "r1", Name: "corp.yml", Rules: []ruleSummary{{"corp-1", "Corp rule", "medium"}}, Updated: now, By: "admin"}}},
		"rule_edit": ruleEditView{Base: base("rules", "Edit"), ID: "r1", Name: "corp.yml", Content: "title: x\n", Problems: []string{"corp.yml:1: bad"}, Sample: "{}"},
		"audit": auditView{Base: base("audit", "Audit log"), Actor: "bob", Actions: []string{"triageFinding"},
			Entries: []auditRow{{Time: now, Actor: "bob", Action: "triageFinding", Target: "f1", TargetHref: "/findings/f1", Remote: "127.0.0.1", Details: `{"status":"resolved"}`}}},
		"settings": settingsView{Base: base("settings", "Settings"), Tab: "destinations", Tabs: []option{{Value: "account", Label: "Account"}, {Value: "destinations", Label: "Alert destinations", On: true}},
			NewSecret: &secretView{Label: "API token", Value: "vgt_x"}, Destinations: []destRow{{Name: "siem", Type: "syslog", Format: "cef", Target: "siem:6514", Enabled: true, Pending: 3, Failing: 1, LastError: "refused"}},
			Edit:      forward.Config{Name: "siem", Type: "syslog", Network: "tls", Filter: forward.Filter{MinLevel: "high", Rules: []string{"a", "b"}}},
			DestTypes: []option{{Value: "syslog", Label: "Syslog"}}, Transports: []string{"udp", "tcp", "tls"}, Levels: levels},
		"error": errorView{Base: base("", "Not found"), Heading: "Not found", Message: "No such finding."},
	}
}

func TestRenderEveryPage(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	r, err := newRenderer(func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	preview := os.Getenv("VIGIL_UI_PREVIEW") // a directory to write the pages to, to look at them
	sample := samplePages(now)
	for _, name := range pages {
		view, ok := sample[name]
		if !ok {
			t.Errorf("no sample view for page %s", name)
			continue
		}
		w := httptest.NewRecorder()
		if err := r.render(w, 200, name, view); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		body := w.Body.String()
		if !strings.Contains(body, "</html>") || !strings.Contains(body, `content="tok&lt;en&gt;"`) {
			t.Errorf("%s: page incomplete or CSRF token not escaped", name)
		}
		if strings.Contains(body, "<b>into</b>") {
			t.Errorf("%s: user text not escaped", name)
		}
		if preview != "" {
			_ = os.WriteFile(filepath.Join(preview, name+".html"), w.Body.Bytes(), 0o644)
		}
	}
	w := httptest.NewRecorder()
	if err := r.execute(w, 200, r.login, "login", loginView{CSRF: "c", Next: "/findings", Error: "Wrong username or password.", SSO: "Okta"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(w.Body.String(), `action="/login"`) || !strings.Contains(w.Body.String(), "Sign in with Okta") {
		t.Errorf("login page: %s", w.Body.String())
	}
	if preview != "" {
		_ = os.WriteFile(filepath.Join(preview, "login.html"), w.Body.Bytes(), 0o644)
	}
}

func TestAgo(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{30 * time.Second: "just now", -30 * time.Second: "just now", 5 * time.Minute: "5 min ago",
		3 * time.Hour: "3 h ago", 72 * time.Hour: "3 days ago"} {
		if got := ago(now, now.Add(-d)); got != want {
			t.Errorf("ago(%v) = %q, want %q", d, got, want)
		}
	}
	if ago(now, time.Time{}) != "never" {
		t.Error("zero time")
	}
}
