// Package fleet runs the fleet rules: the same policies engine the agents run, over events the
// server builds from every host's network position (category fleet_host, product vigil: the
// facts the agents' host inventories report plus what only the server sees, the egress address).
// The laptop-farm rules are Sigma value_count correlations in the built-in pack
// (policies/rules/fleet), not Go code. Hosts behind a declared office network carry
// OfficeNetwork, which the rules leave out.
//
// Each pass re-reads the facts of the last 24 hours into a fresh engine, so that every replica
// computes the same findings; a finding's id is derived from its rule and group, so a farm that
// persists is one finding whose host list grows.
package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/policies"
	"github.com/vigilhq/vigil/server/ingest"
	"github.com/vigilhq/vigil/server/policy"
	"github.com/vigilhq/vigil/server/store"
)

// Logsource of the events the fleet rules read.
const (
	Product  = "vigil"
	Category = "fleet_host"
	// FieldOffice names the office network a host is behind.
	FieldOffice = "OfficeNetwork"
)

// Window is how far back a pass reads facts.
const Window = 24 * time.Hour

// Store is what the evaluator needs.
type Store interface {
	store.FleetFacts
	store.Findings
}

// Config configures an Evaluator.
type Config struct {
	Store  Store
	Logger hclog.Logger
	// OfficeCIDRs are office egress ranges (and VPN exits); OfficeGatewayMACs office routers.
	OfficeCIDRs       []netip.Prefix
	OfficeGatewayMACs []string
	// Rules replaces the built-in fleet rules (tests).
	Rules fs.FS
	Now   func() time.Time
	// OnNew, when set, is called with each fleet finding a pass creates (to forward it).
	OnNew func(ctx context.Context, f store.Finding)
}

// Evaluator runs fleet passes.
type Evaluator struct {
	st    Store
	log   hclog.Logger
	rs    *policies.Ruleset
	uses  map[string][]string // correlation id -> base rule ids
	cidrs []netip.Prefix
	macs  map[string]bool
	now   func() time.Time
	onNew func(ctx context.Context, f store.Finding)
	// officeMu guards cidrs and macs, which SetOffice replaces while passes run.
	officeMu sync.RWMutex
}

// New loads the fleet rules.
func New(cfg Config) (*Evaluator, error) {
	e := &Evaluator{st: cfg.Store, log: cfg.Logger, now: cfg.Now, macs: map[string]bool{}, uses: map[string][]string{}, onNew: cfg.OnNew}
	if e.log == nil {
		e.log = hclog.NewNullLogger()
	}
	if e.now == nil {
		e.now = time.Now
	}
	rules := cfg.Rules
	if rules == nil {
		sub, err := fs.Sub(policies.BuiltinFS(), "fleet")
		if err != nil {
			return nil, fmt.Errorf("fleet rules: %w", err)
		}
		rules = sub
	}
	rs, err := policy.LoadStrict(rules)
	if err != nil {
		return nil, fmt.Errorf("fleet rules: %w", err)
	}
	e.rs = rs
	for _, info := range rs.Rules() {
		if info.Kind == "correlation" {
			e.uses[info.ID] = info.Uses
		}
	}
	for _, p := range cfg.OfficeCIDRs {
		e.cidrs = append(e.cidrs, p.Masked())
	}
	for _, m := range cfg.OfficeGatewayMACs {
		if m = strings.TrimSpace(m); m != "" {
			e.macs[ingest.NormalizeMAC(m)] = true
		}
	}
	return e, nil
}

// SetOffice replaces the office networks (egress CIDRs or addresses; gateway MACs or Wi-Fi
// BSSIDs, both MAC addresses); the next pass leaves hosts behind them out.
func (e *Evaluator) SetOffice(cidrs, gatewayMACs []string) error {
	var prefixes []netip.Prefix
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if !strings.Contains(c, "/") {
			a, err := netip.ParseAddr(c)
			if err != nil {
				return fmt.Errorf("office network %q: %w", c, err)
			}
			c = netip.PrefixFrom(a, a.BitLen()).String()
		}
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return fmt.Errorf("office network %q: %w", c, err)
		}
		prefixes = append(prefixes, p.Masked())
	}
	macs := map[string]bool{}
	for _, m := range gatewayMACs {
		if m = strings.TrimSpace(m); m != "" {
			macs[ingest.NormalizeMAC(m)] = true
		}
	}
	e.officeMu.Lock()
	e.cidrs, e.macs = prefixes, macs
	e.officeMu.Unlock()
	return nil
}

// office names the office network facts place a host behind ("" for none).
func (e *Evaluator) office(f map[string]any) string {
	e.officeMu.RLock()
	defer e.officeMu.RUnlock()
	if ip, ok := f[ingest.FactEgressIP].(string); ok {
		if a, err := netip.ParseAddr(ip); err == nil {
			for _, p := range e.cidrs {
				if p.Contains(a.Unmap()) {
					return "cidr:" + p.String()
				}
			}
		}
	}
	if mac, ok := f[ingest.FactGatewayMac].(string); ok && e.macs[ingest.NormalizeMAC(mac)] {
		return "gateway:" + ingest.NormalizeMAC(mac)
	}
	if bssid, ok := f[ingest.FactWifiBssid].(string); ok && e.macs[ingest.NormalizeMAC(bssid)] {
		return "wifi:" + ingest.NormalizeMAC(bssid)
	}
	return ""
}

// Events returns the fleet events of facts, as the engine reads them (exported for tests and
// `vigil policy eval`-style tooling).
func (e *Evaluator) Events(facts []store.FleetFact, since time.Time) []*event.Event {
	out := make([]*event.Event, 0, len(facts))
	for _, f := range facts {
		fields := map[string]any{}
		if err := json.Unmarshal(f.Facts, &fields); err != nil {
			continue
		}
		if o := e.office(fields); o != "" {
			fields[FieldOffice] = o
		}
		t := f.Time
		if t.Before(since) {
			t = since // a position held since before the window, still held
		}
		out = append(out, &event.Event{ID: f.ID, Time: t, Host: f.HostID, Category: Category, Product: Product, Fields: fields})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// Run does one pass: it evaluates the fleet rules over the last 24 hours of facts and stores
// each correlation finding, listing every host whose facts matched the correlation's rules
// with the same group values. It returns how many findings it created.
func (e *Evaluator) Run(ctx context.Context) (int, error) {
	now := e.now().UTC()
	since := now.Add(-Window)
	facts, err := e.st.FleetFactsSince(ctx, since)
	if err != nil {
		return 0, fmt.Errorf("fleet: %w", err)
	}
	events := e.Events(facts, since)
	eng, err := policies.NewEngine(e.rs, policies.EngineOptions{Logger: e.log})
	if err != nil {
		return 0, fmt.Errorf("fleet: %w", err)
	}
	byID := map[string]*event.Event{}
	for _, ev := range events {
		byID[ev.ID] = ev
	}
	matched := map[string][]*event.Event{} // base rule id -> events it matched
	var found []*policies.Finding
	emit := func(f *policies.Finding) {
		if f.Correlation == "" {
			for _, id := range f.EventIDs {
				if ev := byID[id]; ev != nil {
					matched[f.RuleID] = append(matched[f.RuleID], ev)
				}
			}
			return
		}
		found = append(found, f)
	}
	for _, ev := range events {
		eng.Process(ev, emit)
	}
	eng.Advance(now, emit)
	created := 0
	for _, f := range found {
		sf := e.finding(f, matched, now)
		c, err := e.st.UpsertFleetFinding(ctx, sf)
		if err != nil {
			return created, fmt.Errorf("fleet: %w", err)
		}
		if c {
			created++
			if e.onNew != nil {
				e.onNew(ctx, sf)
			}
			e.log.Info("fleet finding", "rule", sf.RuleID, "group", sf.Group, "hosts", len(sf.Hosts))
		}
	}
	return created, nil
}

// finding turns a correlation firing into the stored finding: every host the correlation's
// rules matched with the firing's group values, in the window.
func (e *Evaluator) finding(f *policies.Finding, matched map[string][]*event.Event, now time.Time) store.Finding {
	hosts := map[string]bool{}
	var evidence []string
	for _, base := range e.uses[f.RuleID] {
		for _, ev := range matched[base] {
			if sameGroup(ev, f.Group) {
				if !hosts[ev.Host] && len(evidence) < wire.MaxEvidence {
					evidence = append(evidence, ev.ID)
				}
				hosts[ev.Host] = true
			}
		}
	}
	list := make([]string, 0, len(hosts))
	for h := range hosts {
		list = append(list, h)
	}
	sort.Strings(list)
	keys := make([]string, 0, len(f.Group))
	for k := range f.Group {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	h.Write([]byte(f.RuleID))
	for _, k := range keys {
		fmt.Fprintf(h, "\x00%s=%s", k, f.Group[k])
	}
	return store.Finding{
		ID: "fleet-" + hex.EncodeToString(h.Sum(nil))[:26], Source: store.SourceFleet, Hosts: list,
		RuleID: f.RuleID, RuleName: f.RuleName, Title: f.Title, Level: f.Level, Author: f.Author, Tags: f.Tags,
		Time: f.Time, Received: now, EventIDs: evidence, Group: f.Group, Count: len(list), Correlation: f.Correlation,
		Status: store.StatusNew,
	}
}

func sameGroup(ev *event.Event, group map[string]string) bool {
	for k, v := range group {
		if k == "host" {
			if ev.Host != v {
				return false
			}
			continue
		}
		if ev.String(k) != v {
			return false
		}
	}
	return true
}
