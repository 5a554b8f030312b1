package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/vigilhq/vigil/agent/pipeline"
	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/policies"
)

// scanReport gathers what a scan saw, for the human-readable report.
type scanReport struct {
	events    map[string]*event.Event // the findings' evidence, by id
	counts    map[string]int          // events per category
	inventory *event.Event            // the latest host_inventory
	usb       []*event.Event
	displays  []*event.Event
	media     []*event.Event
	listening []*event.Event
	findings  []*policies.Finding
}

func newScanReport() *scanReport {
	return &scanReport{events: map[string]*event.Event{}, counts: map[string]int{}}
}

func (r *scanReport) addEvent(ev *event.Event) {
	r.counts[ev.Category]++
	switch ev.Category {
	case event.HostInventory:
		r.inventory = ev
	case event.USBDevice:
		if ev.String("Action") != "removed" {
			r.usb = append(r.usb, ev)
		}
	case event.Display:
		r.displays = append(r.displays, ev)
	case event.RemovableMedia:
		if ev.String("Action") != "unmounted" {
			r.media = append(r.media, ev)
		}
	case event.NetworkConnection:
		if ev.String("State") == "LISTEN" {
			r.listening = append(r.listening, ev)
		}
	}
}

// addFinding keeps a finding and the evidence events the pipeline attached to it.
func (r *scanReport) addFinding(f *pipeline.Finding) {
	r.findings = append(r.findings, f.Finding)
	for _, ev := range f.Evidence {
		r.events[ev.ID] = ev
	}
}

func (r *scanReport) maxLevel() int {
	m := 0
	for _, f := range r.findings {
		m = max(m, policies.LevelRank(f.Level))
	}
	return m
}

func list(v any) string {
	switch t := v.(type) {
	case []string:
		return strings.Join(t, ", ")
	case []any:
		parts := make([]string, 0, len(t))
		for _, x := range t {
			parts = append(parts, fmt.Sprint(x))
		}
		return strings.Join(parts, ", ")
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (r *scanReport) render(w io.Writer, hostname string, took time.Duration, srcErr error) {
	total := 0
	for _, n := range r.counts {
		total += n
	}
	fmt.Fprintf(w, "Vigil scan of %s: %d events in %s\n", hostname, total, took.Round(time.Millisecond))
	if srcErr != nil {
		fmt.Fprintf(w, "  (some sources failed: %v)\n", srcErr)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Inventory")
	if inv := r.inventory; inv != nil {
		row := func(k, v string) {
			if v != "" {
				fmt.Fprintf(w, "  %-16s %s\n", k, v)
			}
		}
		row("OS", strings.TrimSpace(inv.String("OsFamily")+" "+inv.String("OsVersion")))
		row("Time zone", strings.TrimSpace(inv.String("Timezone")+" "+inv.String("UtcOffset")))
		row("Locale", inv.String("Locale"))
		row("Keyboards", list(inv.Fields["KeyboardLayouts"]))
		row("Input methods", list(inv.Fields["InputMethods"]))
		row("Users", list(inv.Fields["LoggedInUsers"]))
		row("Remote sessions", list(inv.Fields["RemoteSessions"]))
		if gw := inv.String("DefaultGatewayIp"); gw != "" {
			row("Gateway", strings.TrimSpace(gw+" "+inv.String("DefaultGatewayMac")))
		}
		if ssid := inv.String("WifiSsid"); ssid != "" {
			row("Wi-Fi", strings.TrimSpace(ssid+" "+inv.String("WifiBssid")))
		}
		row("VPN interfaces", list(inv.Fields["VpnInterfaces"]))
		row("Virtualization", inv.String("Virtualization"))
	}
	if n := r.counts[event.ProcessCreation]; n > 0 {
		fmt.Fprintf(w, "  %-16s %d\n", "Processes", n)
	}
	if len(r.listening) > 0 {
		fmt.Fprintf(w, "  Listening sockets (%d)\n", len(r.listening))
		for _, ev := range sortedBy(r.listening, "DestinationPort") {
			fmt.Fprintf(w, "    %s %s:%s  %s\n", ev.String("Protocol"), ev.String("DestinationIp"), ev.String("DestinationPort"), orDash(ev.String("Image")))
		}
	}
	if len(r.usb) > 0 {
		fmt.Fprintf(w, "  USB devices (%d)\n", len(r.usb))
		for _, ev := range sortedBy(r.usb, "Location") {
			fmt.Fprintf(w, "    %s:%s  %s %s", ev.String("VendorId"), ev.String("ProductId"), ev.String("Manufacturer"), ev.String("Product"))
			if c := list(ev.Fields["InterfaceClasses"]); c != "" {
				fmt.Fprintf(w, "  [%s]", c)
			}
			fmt.Fprintln(w)
		}
	}
	if len(r.displays) > 0 {
		fmt.Fprintf(w, "  Displays (%d)\n", len(r.displays))
		for _, ev := range r.displays {
			fmt.Fprintf(w, "    %s  %s %s/%s  %s\n", orDash(ev.String("MonitorName")), ev.String("EdidManufacturer"), ev.String("EdidProduct"), ev.String("EdidSerial"), ev.String("Connector"))
		}
	}
	if len(r.media) > 0 {
		fmt.Fprintf(w, "  Removable media (%d)\n", len(r.media))
		for _, ev := range r.media {
			fmt.Fprintf(w, "    %s  %s %s %s\n", ev.String("MountPoint"), ev.String("Device"), ev.String("FsType"), ev.String("Label"))
		}
	}

	fmt.Fprintln(w)
	if len(r.findings) == 0 {
		fmt.Fprintln(w, "No findings.")
		return
	}
	fmt.Fprintf(w, "Findings (%d)\n", len(r.findings))
	byLevel := map[string][]*policies.Finding{}
	var lvls []string
	for _, f := range r.findings {
		if byLevel[f.Level] == nil {
			lvls = append(lvls, f.Level)
		}
		byLevel[f.Level] = append(byLevel[f.Level], f)
	}
	// Most severe first; levels outside Sigma's five (and none) last, by name.
	sort.Slice(lvls, func(i, j int) bool {
		ri, rj := policies.LevelRank(lvls[i]), policies.LevelRank(lvls[j])
		if ri != rj {
			return ri > rj
		}
		return lvls[i] < lvls[j]
	})
	for _, lvl := range lvls {
		fs := byLevel[lvl]
		fmt.Fprintf(w, "\n  %s (%d)\n", strings.ToUpper(orDash(lvl)), len(fs))
		for _, f := range fs {
			fmt.Fprintf(w, "    %s", f.Title)
			if f.Count > 0 {
				fmt.Fprintf(w, "  (count %d)", f.Count)
			}
			fmt.Fprintf(w, "\n      rule %s by %s\n", f.RuleID, orDash(f.Author))
			for i, id := range f.EventIDs {
				if i == 3 {
					fmt.Fprintf(w, "      ... and %d more events\n", len(f.EventIDs)-3)
					break
				}
				fmt.Fprintf(w, "      evidence: %s\n", r.describe(id))
			}
		}
	}
}

// describe summarises an event in one line.
func (r *scanReport) describe(id string) string {
	ev := r.events[id]
	if ev == nil {
		return id
	}
	var parts []string
	switch ev.Category {
	case event.ProcessCreation, event.ProcessTermination:
		parts = []string{ev.String("Image"), ev.String("CommandLine"), "pid " + ev.String("ProcessId"), ev.String("User")}
	case event.NetworkConnection:
		parts = []string{ev.String("Protocol"), ev.String("SourceIp") + ":" + ev.String("SourcePort"), "->", ev.String("DestinationIp") + ":" + ev.String("DestinationPort"), ev.String("Image")}
	case event.USBDevice:
		parts = []string{ev.String("VendorId") + ":" + ev.String("ProductId"), ev.String("Manufacturer"), ev.String("Product"), "serial " + orDash(ev.String("Serial")), list(ev.Fields["InterfaceClasses"])}
	case event.Display:
		parts = []string{ev.String("MonitorName"), ev.String("PnpId"), "serial " + ev.String("EdidSerial"), ev.String("Connector")}
	case event.FileEvent:
		parts = []string{ev.String("Action"), ev.String("TargetFilename"), ev.String("ArchiveType"), ev.String("FileCount"), ev.String("TotalBytes")}
	case event.Neighbor:
		parts = []string{ev.String("Ip"), ev.String("Mac"), ev.String("Interface")}
	case event.RemovableMedia:
		parts = []string{ev.String("MountPoint"), ev.String("Device"), ev.String("FsType")}
	case event.HostInventory:
		parts = []string{"input methods " + list(ev.Fields["InputMethods"]), "VPN " + list(ev.Fields["VpnInterfaces"]), "time zone " + ev.String("Timezone")}
	}
	var kept []string
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			kept = append(kept, p)
		}
	}
	return ev.Category + ": " + strings.Join(kept, "  ")
}

func sortedBy(evs []*event.Event, field string) []*event.Event {
	out := append([]*event.Event(nil), evs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].String(field) < out[j].String(field) })
	return out
}
