package e2e

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/rdservers"
)

// TestLaptopFarm: three agents, each in its own network namespace with its own machine id and
// host name, behind one bridge that is their shared default gateway (one MAC), report to a
// server on the bridge's host side; a fourth agent on the same bridge, at an address the
// server is told is an office network, is left out. One laptop-farm finding must name the
// three, within one check-in interval of the third one's start.
func TestLaptopFarm(t *testing.T) {
	t.Parallel()
	Need(t, "unshare")
	lab := NewLab(t)
	const checkin = 10 * time.Second
	office := lab.Addr(192) + "/26"
	srv := StartServer(t, ServerOptions{
		Listen:          fmt.Sprintf("%s:%d", lab.GatewayIP, rdservers.FreePort(t)),
		CheckinInterval: checkin,
		Args:            []string{"--office-cidr", office, "--fleet-interval", "2s"},
	})
	addr, _ := url.Parse(srv.URL)
	type laptop struct {
		name string
		host int
	}
	start := func(l laptop) *Agent {
		ns := lab.Netns(t, l.name, l.host, nil)
		ns.Reach(t, addr.Host) // a laptop's first traffic: its gateway is in its neighbour table
		return StartAgent(t, srv, AgentOptions{Name: l.name, Only: []string{"host"}, Netns: ns, Hostname: l.name})
	}
	// The office laptop first, so the farm's finding, when it comes, has seen it.
	officeAgent := start(laptop{"office-1", 200})
	var farm []*Agent
	var third time.Time
	for i, l := range []laptop{{"laptop-1", 11}, {"laptop-2", 12}, {"laptop-3", 13}} {
		if i == 2 {
			third = time.Now()
		}
		farm = append(farm, start(l))
	}
	want := []string{farm[0].HostID, farm[1].HostID, farm[2].HostID}
	slices.Sort(want)
	got := farm[0].Await(t, third, 90*time.Second, "one laptop-farm finding naming the three laptops", func(d *Detail) bool {
		return d.Finding.Source == "fleet" && d.Finding.RuleName == "fleet_laptop_farm_gateway_mac" && len(d.Finding.Hosts) >= 3
	})
	hosts := slices.Clone(got.Finding.Hosts)
	slices.Sort(hosts)
	if !slices.Equal(hosts, want) {
		t.Errorf("the farm finding names %v, want the three laptops %v (the office laptop %s is left out)", hosts, want, officeAgent.HostID)
	}
	if got.Finding.Level != "high" || got.Finding.Group["DefaultGatewayMac"] != lab.MAC {
		t.Errorf("farm finding: level %s, group %v; want high, DefaultGatewayMac %s", got.Finding.Level, got.Finding.Group, lab.MAC)
	}
	var names []string
	for _, h := range got.Hosts {
		names = append(names, h.Hostname+" ("+h.EgressIP+")")
	}
	t.Logf("%s names %v", got.Finding.Title, names)
	// Exactly one farm finding, and none names the office laptop.
	fs, err := srv.Findings(url.Values{"source": {"fleet"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.ID != got.Finding.ID && f.RuleName == got.Finding.RuleName {
			t.Errorf("a second farm finding: %+v", f)
		}
		if slices.Contains(f.Hosts, officeAgent.HostID) {
			t.Errorf("fleet finding %s names the office laptop", f.RuleName)
		}
	}
	within := "within one check-in interval (" + checkin.String() + ")"
	if got.Latency > checkin {
		within = "NOT within one check-in interval (" + checkin.String() + ")"
	}
	Record(t, "laptop farm", "3rd laptop started -> farm finding naming the 3 ("+strconv.Itoa(len(fs))+" fleet findings)", got.Latency, within)
}
