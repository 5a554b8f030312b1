package server

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/server/store"
)

// TestFleetLaptopFarm: three agents with their own machine ids report one default-gateway MAC:
// one laptop-farm finding names all three; a fourth behind a declared office network (its egress
// address, told by a trusted proxy) with the same gateway is left out.
func TestFleetLaptopFarm(t *testing.T) {
	srv, c := testServer(t, func(c *Config) {
		c.TrustedProxies = []string{"127.0.0.1"}
		c.OfficeCIDRs = []string{"198.51.100.0/24"}
		c.FleetInterval = time.Hour // the test runs the pass itself
	})
	const mac = "3C-84-6A-11-22-33" // Windows spelling; the others use colons
	egress := []string{"203.0.113.7", "203.0.113.7", "203.0.113.8", "198.51.100.20"}
	var ids []string
	for i := range 4 {
		a := enrollAgent(t, srv, c, fmt.Sprintf("machine-%d", i))
		ids = append(ids, a.AgentID)
		gw := mac
		if i > 0 {
			gw = "3c:84:6a:11:22:33"
		}
		b := wire.Batch{Inventory: []wire.Inventory{{ID: fmt.Sprintf("inv-%d", i), Kind: wire.InventoryHost, Time: time.Now().UTC(),
			Items: []map[string]any{{"Hostname": fmt.Sprintf("laptop-%d", i), "DefaultGatewayMac": gw, "DefaultGatewayIp": "192.168.1.1"}}}}}
		if r := do(t, c, "POST", srv.LocalURL()+wire.PathBatch, a.Token, b, "X-Forwarded-For", egress[i]); r.status != 200 {
			t.Fatalf("batch %d: %d %s", i, r.status, r.body)
		}
	}
	n, err := srv.Fleet().Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("fleet pass created %d findings, want 1", n)
	}
	r := do(t, c, "GET", srv.LocalURL()+"/api/v1/findings?source=fleet", adminToken, nil)
	var fl struct{ Findings []store.Finding }
	r.decode(t, &fl)
	if len(fl.Findings) != 1 {
		t.Fatalf("fleet findings: %s", r.body)
	}
	f := fl.Findings[0]
	want := slices.Clone(ids[:3])
	slices.Sort(want)
	if f.RuleID == "" || f.Level != "high" || !slices.Equal(f.Hosts, want) || f.Group["DefaultGatewayMac"] != "3c:84:6a:11:22:33" {
		t.Fatalf("laptop-farm finding: %+v (want hosts %v)", f, want)
	}
	// Detail: the hosts by name and the rule's text.
	r = do(t, c, "GET", srv.LocalURL()+"/api/v1/findings/"+f.ID, adminToken, nil)
	var d struct {
		Hosts []struct{ Hostname string }
		Rule  struct{ Text, Author string }
	}
	r.decode(t, &d)
	if len(d.Hosts) != 3 || d.Rule.Author != "Vigil project" || d.Rule.Text == "" {
		t.Fatalf("detail: %s", r.body)
	}
	// The host filter finds it for each member, not for the office laptop.
	for i, id := range ids {
		r = do(t, c, "GET", srv.LocalURL()+"/api/v1/findings?host="+id, adminToken, nil)
		r.decode(t, &fl)
		if got := len(fl.Findings); (i < 3) != (got == 1) {
			t.Errorf("host %d: %d findings", i, got)
		}
	}
	// A second pass finds the same farm: no new finding.
	if n, err := srv.Fleet().Run(context.Background()); err != nil || n != 0 {
		t.Fatalf("second pass: %d, %v", n, err)
	}
}
