package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/server/ingest"
	"github.com/vigilhq/vigil/server/store"
	"github.com/vigilhq/vigil/server/ui/chart"
)

// overviewDays is how many days the overview's chart covers.
const overviewDays = 14

var openStatuses = []string{store.StatusNew, store.StatusInvestigating}

func (u *UI) overview(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ctx := r.Context()
	now := u.cfg.Now().UTC()
	st, err := u.st.Overview(ctx, now.Add(-(overviewDays-1)*24*time.Hour), now, 8)
	if err != nil {
		return err
	}
	c.newCount = st.New
	v := overviewView{Base: c.base("overview", "Overview"), Days: overviewDays, Levels: levels, New: st.New, Investigating: st.Investigating,
		PolicyVersion: u.cfg.Policy.Version(ctx)}
	for _, n := range st.Open {
		v.Open += n
	}
	v.OpenCritical = st.Open["critical"] + st.Open["high"]
	if v.Hosts, err = u.st.CountHosts(ctx, store.HostFilter{}); err != nil {
		return err
	}
	offline := now.Add(-3 * u.cfg.CheckinInterval)
	if v.Online, err = u.st.CountHosts(ctx, store.HostFilter{SeenAfter: offline}); err != nil {
		return err
	}
	v.Offline = v.Hosts - v.Online
	// the chart, oldest day first, stacked from informational up to critical
	ch := chart.Stacked{Title: "Findings by severity, per day"}
	for i := len(levels) - 1; i >= 0; i-- {
		ch.Series = append(ch.Series, chart.Series{Name: levels[i], Class: "lvl-" + levels[i]})
	}
	for _, d := range st.Days {
		ch.Labels = append(ch.Labels, d.Day.Format("2 Jan"))
		ch.Links = append(ch.Links, "/findings?range=all&status=new&status=investigating&status=resolved&status=false_positive")
		for i := range ch.Series {
			ch.Series[i].Values = append(ch.Series[i].Values, float64(d.ByLevel[ch.Series[i].Name]))
		}
	}
	v.Chart = ch.SVG()
	topMax := 1
	for _, tr := range st.TopRules {
		topMax = max(topMax, tr.Count)
	}
	for _, tr := range st.TopRules {
		v.TopRules = append(v.TopRules, topRule{RuleID: tr.RuleID, Title: tr.Title, Count: tr.Count, Pct: tr.Count * 100 / topMax})
	}
	var hosts []store.Host
	for _, hr := range st.AtRisk {
		if h, err := u.st.Host(ctx, hr.HostID); err == nil {
			hosts = append(hosts, h)
		}
	}
	if v.AtRisk, err = u.hostRows(ctx, hosts); err != nil {
		return err
	}
	off, _, err := u.st.ListHosts(ctx, store.HostFilter{SeenBefore: offline, Page: store.Page{Limit: 8}})
	if err != nil {
		return err
	}
	if v.OfflineHosts, err = u.hostRows(ctx, off); err != nil {
		return err
	}
	if v.Clusters, err = u.clusters(ctx, 6); err != nil {
		return err
	}
	return u.r.render(w, http.StatusOK, "overview", v)
}

// clusters are the open laptop-farm findings: the shared value and the hosts behind it.
func (u *UI) clusters(ctx context.Context, n int) ([]clusterView, error) {
	fs, _, err := u.st.ListFindings(ctx, store.FindingFilter{Source: store.SourceFleet, Statuses: openStatuses, Page: store.Page{Limit: n}})
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	var out []clusterView
	for _, f := range fs {
		cv := clusterView{FindingID: f.ID, Level: f.Level, Kind: "Shared network"}
		for k, val := range f.Group {
			cv.Kind, cv.Value = factLabel(k), val
		}
		for _, id := range f.Hosts {
			cv.Hosts = append(cv.Hosts, hostRef{ID: id, Hostname: u.hostname(ctx, names, id)})
		}
		out = append(out, cv)
	}
	return out, nil
}

// hostname names a host, remembering names in names (the id when the host is gone).
func (u *UI) hostname(ctx context.Context, names map[string]string, id string) string {
	if n, ok := names[id]; ok {
		return n
	}
	names[id] = id
	if h, err := u.st.Host(ctx, id); err == nil {
		names[id] = h.Hostname
	}
	return names[id]
}

// fleetKinds are the network facts hosts are grouped by.
var fleetKinds = []struct{ value, field, label string }{
	{"egress", ingest.FactEgressIP, "Egress IP"},
	{"gateway", ingest.FactGatewayMac, "Gateway MAC"},
	{"bssid", ingest.FactWifiBssid, "Wi-Fi BSSID"},
}

func factLabel(field string) string {
	for _, k := range fleetKinds {
		if k.field == field {
			return k.label
		}
	}
	return field
}

func (u *UI) hosts(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ctx := r.Context()
	q := r.URL.Query()
	f := store.HostFilter{Query: q.Get("q"), OS: q.Get("os"), Page: store.Page{Limit: 50, Cursor: q.Get("cursor")}}
	offline := u.cfg.Now().Add(-3 * u.cfg.CheckinInterval)
	switch q.Get("state") {
	case "online":
		f.SeenAfter = offline
	case "offline":
		f.SeenBefore = offline
	}
	hosts, next, err := u.st.ListHosts(ctx, f)
	if err != nil {
		return err
	}
	v := hostsView{Base: c.base("hosts", "Hosts"), Query: f.Query, State: q.Get("state"), OS: f.OS, OSes: []string{event.Linux, event.MacOS, event.Windows},
		Interval: u.cfg.CheckinInterval.String()}
	if v.Total, err = u.st.CountHosts(ctx, store.HostFilter{}); err != nil {
		return err
	}
	if v.Online, err = u.st.CountHosts(ctx, store.HostFilter{SeenAfter: offline}); err != nil {
		return err
	}
	if v.Hosts, err = u.hostRows(ctx, hosts); err != nil {
		return err
	}
	for i := range v.Hosts {
		inv, err := u.st.HostInventory(ctx, v.Hosts[i].ID)
		if err != nil {
			return err
		}
		for _, in := range inv {
			var items []map[string]any
			_ = json.Unmarshal(in.Items, &items)
			switch in.Kind {
			case event.USBDevice:
				v.Hosts[i].USB = len(items)
			case event.Display:
				v.Hosts[i].Displays = len(items)
			}
		}
	}
	if next != "" {
		nq := url.Values{}
		for k, vs := range q {
			nq[k] = vs
		}
		nq.Set("cursor", next)
		v.NextHref = "/hosts?" + nq.Encode()
	}
	return u.r.render(w, http.StatusOK, "hosts", v)
}

// inventoryColumns are the columns shown per inventory kind, in order.
var inventoryColumns = []struct {
	kind, label string
	cols        []string
}{
	{event.USBDevice, "USB devices", []string{"VendorId", "ProductId", "Manufacturer", "Product", "Serial", "DeviceClass"}},
	{event.Display, "Displays", []string{"MonitorName", "EdidManufacturer", "EdidProduct", "EdidSerial", "Connector"}},
	{event.RemovableMedia, "Removable media", []string{"MountPoint", "Device", "FsType", "Label"}},
	{event.Neighbor, "Network neighbours", []string{"Ip", "Mac"}},
}

// hostFactFields are the host_inventory fields shown as facts, in order.
var hostFactFields = []string{"OsFamily", "OsVersion", "Timezone", "Locale", "KeyboardLayouts", "DefaultGatewayIp", "DefaultGatewayMac",
	"WifiSsid", "WifiBssid", "VpnInterfaces", "Virtualization", "LoggedInUsers", "RemoteSessions"}

func (u *UI) host(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ctx := r.Context()
	h, err := u.st.Host(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	rows, err := u.hostRows(ctx, []store.Host{h})
	if err != nil {
		return err
	}
	v := hostView{Base: c.base("hosts", h.Hostname, Crumb{Name: "Hosts", Href: "/hosts"}, Crumb{Name: h.Hostname}), Host: rows[0],
		EnrolledAt: h.EnrolledAt, MachineID: h.MachineID}
	fs, _, err := u.st.ListFindings(ctx, store.FindingFilter{HostID: h.ID, Statuses: openStatuses, Page: store.Page{Limit: 25}})
	if err != nil {
		return err
	}
	ids := make([]string, len(fs))
	for i, f := range fs {
		ids[i] = f.ID
	}
	states, err := u.st.TriageStates(ctx, ids)
	if err != nil {
		return err
	}
	for _, f := range fs {
		v.Findings = append(v.Findings, findingRow{ID: f.ID, Title: f.Title, RuleID: f.RuleID, Level: f.Level, Status: f.Status, Assignee: states[f.ID].Assignee, Time: f.Time})
	}
	inv, err := u.st.HostInventory(ctx, h.ID)
	if err != nil {
		return err
	}
	byKind := map[string]store.Inventory{}
	for _, in := range inv {
		byKind[in.Kind] = in
	}
	if hi, ok := byKind[event.HostInventory]; ok {
		var items []map[string]any
		_ = json.Unmarshal(hi.Items, &items)
		if len(items) > 0 {
			for _, k := range hostFactFields {
				if val, ok := items[0][k]; ok && val != nil {
					v.Facts = append(v.Facts, kv{Key: k, Value: display(val)})
				}
			}
			if ifs, ok := items[0]["Interfaces"].([]any); ok {
				sec := invSection{Kind: "network", Label: "Network interfaces", Time: hi.Time, Columns: []string{"Name", "Mac", "Addresses"}}
				for _, it := range ifs {
					m, _ := it.(map[string]any)
					sec.Rows = append(sec.Rows, []string{display(m["Name"]), display(m["Mac"]), display(m["Addresses"])})
				}
				v.Inventory = append(v.Inventory, sec)
			}
		}
	}
	for _, ic := range inventoryColumns {
		in, ok := byKind[ic.kind]
		if !ok {
			continue
		}
		var items []map[string]any
		_ = json.Unmarshal(in.Items, &items)
		sec := invSection{Kind: ic.kind, Label: ic.label, Time: in.Time, Columns: ic.cols}
		for _, it := range items {
			row := make([]string, len(ic.cols))
			for i, col := range ic.cols {
				if val, ok := it[col]; ok && val != nil {
					row[i] = display(val)
				}
			}
			sec.Rows = append(sec.Rows, row)
		}
		v.Inventory = append(v.Inventory, sec)
	}
	if hh, ok := health(h.Health); ok {
		_, v.HealthProblem = healthProblem(hh)
		v.Health = []kv{
			{Key: "Agent version", Value: hh.AgentVersion},
			{Key: "Policy version", Value: fmt.Sprint(hh.PolicyVersion)},
			{Key: "Queue", Value: fmt.Sprintf("%d items, %d KiB", hh.QueueItems, hh.QueueBytes/1024)},
			{Key: "Queue losses", Value: fmt.Sprint(hh.QueueDropped), Bad: hh.QueueDropped > 0},
			{Key: "Events dropped", Value: fmt.Sprint(hh.EventsDropped), Bad: hh.EventsDropped > 0},
			{Key: "Self-limit events", Value: fmt.Sprint(hh.SelfLimited), Bad: hh.SelfLimitState != ""},
			{Key: "CPU", Value: fmt.Sprintf("%.1f%% of a core", hh.CPUPercent)},
			{Key: "Memory", Value: fmt.Sprintf("%d MiB", hh.RSSBytes>>20)},
		}
		if hh.SelfLimitState != "" {
			v.Health = append(v.Health, kv{Key: "Backing off", Value: hh.SelfLimitState, Bad: true})
		}
		if hh.PolicyError != "" {
			v.Health = append(v.Health, kv{Key: "Policy refused", Value: hh.PolicyError, Bad: true})
		}
		if !hh.StartedAt.IsZero() {
			v.Health = append(v.Health, kv{Key: "Running since", Value: hh.StartedAt.Local().Format("2006-01-02 15:04")})
		}
	}
	groups, err := u.fleetGroups(ctx)
	if err != nil {
		return err
	}
	for _, k := range fleetKinds {
		for _, g := range groups[k.value] {
			if slices.ContainsFunc(g.Hosts, func(hr hostRef) bool { return hr.ID == h.ID }) {
				v.Shares = append(v.Shares, g)
			}
		}
	}
	return u.r.render(w, http.StatusOK, "host", v)
}

func (u *UI) timeline(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ctx := r.Context()
	h, err := u.st.Host(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	rg := q.Get("range")
	if rg == "" || rg == "all" {
		rg = "7d"
	}
	opts, d := rangeOptions(rg)
	opts = opts[:len(opts)-1] // "any time" is not offered: a timeline is read in windows
	now := u.cfg.Now()
	since, until := now.Add(-d), now.Add(time.Minute)
	if t, err := time.Parse(time.RFC3339Nano, q.Get("before")); err == nil {
		until = t
	}
	v := timelineView{Base: c.base("hosts", "Timeline", Crumb{Name: "Hosts", Href: "/hosts"}, Crumb{Name: h.Hostname, Href: "/hosts/" + url.PathEscape(h.ID)}, Crumb{Name: "Timeline"}),
		HostID: h.ID, Hostname: h.Hostname, Category: q.Get("category"), Ranges: opts,
		Categories: []string{event.ProcessCreation, event.NetworkConnection, event.FileEvent, event.USBDevice, event.Display, event.RemovableMedia, event.HostInventory, event.Neighbor}}
	const pageSize = 200
	evs, next, err := u.st.HostEvents(ctx, h.ID, since, until, store.Page{Limit: pageSize})
	if err != nil {
		return err
	}
	var items []tlItem
	oldest := until
	for _, e := range evs {
		oldest = e.Time
		if v.Category != "" && e.Category != v.Category {
			continue
		}
		fields := fieldsOf(e.Fields)
		it := tlItem{Time: e.Time, What: summary(e.Category, fields), Tag: e.Category, Class: "tl-event"}
		if e.Category == event.ProcessCreation {
			it.Detail = display(fields["Image"])
		}
		items = append(items, it)
	}
	if v.Category == "" {
		fs, _, err := u.st.ListFindings(ctx, store.FindingFilter{HostID: h.ID, Since: oldest, Until: until, Page: store.Page{Limit: 200}})
		if err != nil {
			return err
		}
		for _, f := range fs {
			items = append(items, tlItem{Time: f.Time, What: f.Title, Tag: "finding " + f.Level, Class: "tl-finding tl-" + f.Level, Href: "/findings/" + url.PathEscape(f.ID)})
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].Time.After(items[j].Time) })
	for _, it := range items {
		day := it.Time.Local().Format("Monday 2 January 2006")
		if len(v.Days) == 0 || v.Days[len(v.Days)-1].Day != day {
			v.Days = append(v.Days, dayGroup{Day: day})
		}
		v.Days[len(v.Days)-1].Items = append(v.Days[len(v.Days)-1].Items, it)
	}
	if next != "" {
		nq := url.Values{"range": {rg}, "before": {oldest.UTC().Format(time.RFC3339Nano)}}
		if v.Category != "" {
			nq.Set("category", v.Category)
		}
		v.NextHref = "/hosts/" + url.PathEscape(h.ID) + "/timeline?" + nq.Encode()
	}
	return u.r.render(w, http.StatusOK, "timeline", v)
}

// fleetGroups groups hosts by each network fact they shared over the fleet rules' window
// (24 h), keeping values shared by two hosts or more, largest groups first.
func (u *UI) fleetGroups(ctx context.Context) (map[string][]clusterView, error) {
	facts, err := u.st.FleetFactsSince(ctx, u.cfg.Now().Add(-24*time.Hour))
	if err != nil {
		return nil, err
	}
	type key struct{ kind, value string }
	members := map[key]map[string]bool{}
	for _, f := range facts {
		var m map[string]any
		if json.Unmarshal(f.Facts, &m) != nil {
			continue
		}
		for _, k := range fleetKinds {
			if val, ok := m[k.field].(string); ok && val != "" {
				kk := key{k.value, val}
				if members[kk] == nil {
					members[kk] = map[string]bool{}
				}
				members[kk][f.HostID] = true
			}
		}
	}
	farms, _, err := u.st.ListFindings(ctx, store.FindingFilter{Source: store.SourceFleet, Statuses: openStatuses, Page: store.Page{Limit: 200}})
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	out := map[string][]clusterView{}
	for kk, hs := range members {
		if len(hs) < 2 {
			continue
		}
		cv := clusterView{Kind: factLabel(fieldOf(kk.kind)), Value: kk.value}
		for id := range hs {
			cv.Hosts = append(cv.Hosts, hostRef{ID: id, Hostname: u.hostname(ctx, names, id)})
		}
		sort.Slice(cv.Hosts, func(i, j int) bool { return cv.Hosts[i].Hostname < cv.Hosts[j].Hostname })
		for _, f := range farms {
			for _, val := range f.Group {
				if strings.EqualFold(val, kk.value) {
					cv.FindingID, cv.Level = f.ID, f.Level
				}
			}
		}
		out[kk.kind] = append(out[kk.kind], cv)
	}
	for k := range out {
		sort.Slice(out[k], func(i, j int) bool {
			if len(out[k][i].Hosts) != len(out[k][j].Hosts) {
				return len(out[k][i].Hosts) > len(out[k][j].Hosts)
			}
			return out[k][i].Value < out[k][j].Value
		})
	}
	return out, nil
}

func fieldOf(kind string) string {
	for _, k := range fleetKinds {
		if k.value == kind {
			return k.field
		}
	}
	return kind
}

func (u *UI) fleet(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	groups, err := u.fleetGroups(r.Context())
	if err != nil {
		return err
	}
	by := r.URL.Query().Get("by")
	if by == "" {
		by = fleetKinds[0].value
	}
	v := fleetView{Base: c.base("fleet", "Fleet"), Window: "24 hours", Groups: groups[by]}
	office, _ := u.officeNetworks(r.Context())
	for _, k := range fleetKinds {
		v.Tabs = append(v.Tabs, option{Value: k.value, Label: k.label, On: k.value == by, N: len(groups[k.value])})
		if k.value == by {
			v.KindLabel = k.label
		}
	}
	for i := range v.Groups {
		v.Groups[i].Office = office.covers(by, v.Groups[i].Value)
	}
	return u.r.render(w, http.StatusOK, "fleet", v)
}
