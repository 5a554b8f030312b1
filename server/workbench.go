package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/server/api"
	"github.com/vigilhq/vigil/server/auth"
	"github.com/vigilhq/vigil/server/auth/oidc"
	"github.com/vigilhq/vigil/server/forward"
	"github.com/vigilhq/vigil/server/ingest"
	"github.com/vigilhq/vigil/server/metrics"
	"github.com/vigilhq/vigil/server/store"
	"github.com/vigilhq/vigil/server/triage"
	"github.com/vigilhq/vigil/server/ui"
)

// OIDCConfig configures single sign-on (all of Issuer, ClientID and ClientSecret, or none).
type OIDCConfig struct {
	Issuer, ClientID, ClientSecret string
	// Name is shown on the login button.
	Name string
	// AdminGroups and AnalystGroups map the provider's groups onto roles (others: viewer).
	AdminGroups, AnalystGroups []string
}

// workbench is the analyst's side of the server: triage, alert forwarding, metrics and the web
// UI, over the same store and route table as the API.
type workbench struct {
	wb      ui.Store
	triage  *triage.Service
	forward *forward.Dispatcher
	metrics *metrics.Metrics
	ui      *ui.UI

	mu        sync.Mutex
	retention map[string]int // saved in the UI; nil: the configuration's
}

// initWorkbench prepares triage, forwarding and metrics; it runs before the ingest, which
// calls batchHook.
func (s *Server) initWorkbench(ctx context.Context) error {
	wb, ok := s.st.(ui.Store)
	if !ok {
		return errors.New("the store lacks the workbench's tables")
	}
	s.wb.wb = wb
	s.wb.triage = triage.New(wb, s.cfg.Logger, nil)
	s.wb.metrics = metrics.New(s.metricsState, s.cfg.Logger)
	s.wb.forward = forward.NewDispatcher(wb, forward.Options{Logger: s.cfg.Logger, Metrics: forward.NewMetrics(s.wb.metrics.Registry)})
	dests, err := ui.Destinations(ctx, wb)
	if err != nil {
		return err
	}
	if err := s.wb.forward.SetDestinations(dests); err != nil {
		s.log.Error("saved alert destinations refused; forwarding is off until they are fixed in Settings", "error", err)
	}
	var days map[string]int
	if raw, err := wb.Setting(ctx, store.SettingRetention); err == nil {
		if json.Unmarshal([]byte(raw), &days) == nil {
			s.wb.retention = days
		}
	}
	return nil
}

// initUI builds the web UI and adds the workbench's API routes; it runs after the API exists.
func (s *Server) initUI(ctx context.Context) error {
	var rp *oidc.RP
	if o := s.cfg.OIDC; o.Issuer != "" || o.ClientID != "" {
		var err error
		rp, err = oidc.New(ctx, oidc.Config{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret, Name: o.Name,
			RedirectURL: s.url + "/auth/oidc/callback", AdminGroups: o.AdminGroups, AnalystGroups: o.AnalystGroups})
		if err != nil {
			return err
		}
	}
	s.loadOffice(ctx)
	ret := map[string]int{}
	for k, v := range DefaultRetention {
		ret[k] = v
	}
	for k, v := range s.cfg.Retention {
		ret[k] = v
	}
	u, err := ui.New(ui.Config{Store: s.wb.wb, Policy: s.policy, Triage: s.wb.triage, Forward: s.wb.forward, Metrics: s.wb.metrics, OIDC: rp,
		Logger: s.cfg.Logger, CheckinInterval: s.cfg.CheckinInterval, ClientIP: func(r *http.Request) string { return s.api.ClientIP(r).String() },
		InsecureCookies: s.cfg.InsecureHTTP, ApplyOffice: s.applyOffice, ApplyRetention: s.applyRetention, Retention: ret,
		ForgetTokens: s.auth.ForgetUserTokens, PasswordChanged: s.passwordChanged})
	if err != nil {
		return err
	}
	s.wb.ui = u
	s.api.AddUserAuthenticator(u.SessionAuth)
	s.api.SetLoginGuard(u.LoginGuard())
	s.api.AddRoutes(api.Route{Method: http.MethodGet, Pattern: "/metrics", Op: "metrics", Tag: "server", Auth: api.AuthUser, Role: auth.RoleViewer,
		Summary: "Prometheus metrics (vigil_*), for a scraper with an API token", Hidden: true,
		Handler: s.wb.metrics.Handler().ServeHTTP})
	return nil
}

// loadOffice puts the office networks saved in the store in force.
func (s *Server) loadOffice(ctx context.Context) {
	var on store.OfficeNetworks
	raw, err := s.wb.wb.Setting(ctx, store.SettingOfficeNetworks)
	if err != nil || json.Unmarshal([]byte(raw), &on) != nil {
		return
	}
	if err := s.applyOffice(on); err != nil {
		s.log.Error("saved office networks refused", "error", err)
	}
}

// applyOffice puts the office networks saved in the UI in force, beside those of the
// configuration.
func (s *Server) applyOffice(on store.OfficeNetworks) error {
	macs := append(append(append([]string{}, s.cfg.OfficeGatewayMACs...), on.MACs...), on.BSSIDs...)
	return s.fleet.SetOffice(append(append([]string{}, s.cfg.OfficeCIDRs...), on.CIDRs...), macs)
}

func (s *Server) applyRetention(days map[string]int) error {
	s.wb.mu.Lock()
	s.wb.retention = days
	s.wb.mu.Unlock()
	return nil
}

// retentionDays is the retention in force for a table: saved in the UI, else configured, else
// the default.
func (s *Server) retentionDays(table string) int {
	s.wb.mu.Lock()
	defer s.wb.mu.Unlock()
	if d, ok := s.wb.retention[table]; ok {
		return d
	}
	if d, ok := s.cfg.Retention[table]; ok {
		return d
	}
	return DefaultRetention[table]
}

// batchHook screens a batch's new findings against the suppressions before they are stored,
// and after the commit records the suppressions' hits, forwards the findings that stay open
// and counts what was stored.
func (s *Server) batchHook(ctx context.Context, a ingest.Agent, b *store.Batch) (func(context.Context, store.BatchResult), error) {
	var fresh []store.Finding
	var idx []int
	var sup []triage.Suppressed
	if len(b.Findings) > 0 {
		ids := make([]string, len(b.Findings))
		for i, f := range b.Findings {
			ids[i] = f.ID
		}
		stored, err := s.wb.wb.TriageStates(ctx, ids)
		if err != nil {
			return nil, err
		}
		for i, f := range b.Findings {
			if _, ok := stored[f.ID]; !ok {
				fresh = append(fresh, f)
				idx = append(idx, i)
			}
		}
		if sup, err = s.wb.triage.Screen(ctx, fresh, b.Events); err != nil {
			return nil, err
		}
		for _, x := range sup {
			b.Findings[idx[x.Index]].Status = fresh[x.Index].Status
		}
	}
	return func(ctx context.Context, res store.BatchResult) {
		s.wb.metrics.BatchItems(len(b.Events), len(fresh), res.Inventory, res.Duplicates)
		if len(fresh) == 0 {
			return
		}
		closed := map[int]bool{}
		for _, x := range sup {
			closed[x.Index] = true
		}
		if len(sup) > 0 {
			if err := s.wb.triage.Record(context.WithoutCancel(ctx), fresh, sup); err != nil {
				s.log.Error("recording suppressions", "error", err)
			}
		}
		var alerts []forward.Alert
		for i, f := range fresh {
			s.wb.metrics.Finding(f.Level, f.Source, closed[i])
			if !closed[i] {
				alerts = append(alerts, s.alert(f, a.Hostname))
			}
		}
		if err := s.wb.forward.Publish(context.WithoutCancel(ctx), alerts); err != nil {
			s.log.Error("forwarding: outbox", "error", err)
		}
	}, nil
}

// fleetFinding forwards a new fleet finding, unless a suppression covers it.
func (s *Server) fleetFinding(ctx context.Context, f store.Finding) {
	one := []store.Finding{f}
	sup, err := s.wb.triage.Screen(ctx, one, nil)
	if err != nil {
		s.log.Error("screening a fleet finding", "error", err)
	}
	s.wb.metrics.Finding(f.Level, store.SourceFleet, len(sup) > 0)
	if len(sup) > 0 {
		st := store.StatusResolved
		if _, err := s.wb.wb.ChangeFindings(ctx, []string{f.ID}, store.TriageChange{Status: &st, Actor: "suppression", Time: time.Now().UTC()}); err != nil {
			s.log.Error("closing a suppressed fleet finding", "error", err)
		}
		if err := s.wb.triage.Record(ctx, one, sup); err != nil {
			s.log.Error("recording suppressions", "error", err)
		}
		return
	}
	if err := s.wb.forward.Publish(ctx, []forward.Alert{s.alert(f, "")}); err != nil {
		s.log.Error("forwarding: outbox", "error", err)
	}
}

// alert is a stored finding as forwarded, with its link in the UI.
func (s *Server) alert(f store.Finding, hostname string) forward.Alert {
	if hostname == "" {
		hostname = "fleet: " + strings.Join(f.Hosts, ", ")
		if len(f.Hosts) > 5 {
			hostname = fmt.Sprintf("fleet: %d hosts", len(f.Hosts))
		}
	}
	return forward.Alert{ID: f.ID, RuleID: f.RuleID, RuleName: f.RuleName, Title: f.Title, Level: f.Level, Author: f.Author, Tags: f.Tags,
		Time: f.Time, HostID: f.HostID, Hostname: hostname, Group: f.Group, Count: f.Count, Correlation: f.Correlation,
		Evidence: len(f.EventIDs), URL: s.url + "/findings/" + f.ID}
}

// metricsState reads the gauges of /metrics.
func (s *Server) metricsState(ctx context.Context) (metrics.State, error) {
	var st metrics.State
	var err error
	if st.HostsTotal, err = s.st.CountHosts(ctx, store.HostFilter{}); err != nil {
		return st, err
	}
	if st.AgentsOnline, err = s.st.CountHosts(ctx, store.HostFilter{SeenAfter: time.Now().Add(-3 * s.cfg.CheckinInterval)}); err != nil {
		return st, err
	}
	ov, err := s.wb.wb.Overview(ctx, time.Now(), time.Now(), 0)
	if err != nil {
		return st, err
	}
	st.OpenFindings, st.NewFindings = ov.Open, ov.New
	st.AgentQueueItems, st.AgentQueueDropped, err = s.wb.wb.AgentQueues(ctx)
	return st, err
}

// handler routes the UI's paths to the UI and everything else to the API, timing each
// request under its route for the metrics.
func (s *Server) handler() http.Handler {
	apiHandler := s.api.Handler()
	uiHandler := s.wb.ui.Handler()
	routes := http.NewServeMux() // matches a request to its route, for the metrics' labels
	ops := map[string]string{}
	nop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, rt := range s.api.Routes() {
		routes.Handle(rt.Key(), nop)
		ops[rt.Key()] = rt.Op
	}
	mux := http.NewServeMux()
	for _, p := range s.wb.ui.Patterns() {
		mux.Handle(p, uiHandler)
		routes.Handle(p, nop)
		ops[p] = "ui"
	}
	mux.Handle("/", apiHandler)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &codeWriter{ResponseWriter: w, code: http.StatusOK}
		mux.ServeHTTP(sw, r)
		_, pattern := routes.Handler(r)
		op, ok := ops[pattern]
		if !ok {
			op = "unmatched"
		}
		if op == "ui" {
			return // the UI times its pages itself, by page
		}
		d := time.Since(start)
		s.wb.metrics.ObserveHTTP(op, r.Method, sw.code, d)
		if r.URL.Path == wire.PathBatch && r.Method == http.MethodPost {
			s.wb.metrics.BatchDone(d, sw.code == http.StatusOK)
		}
	})
}

type codeWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (c *codeWriter) WriteHeader(code int) {
	if !c.wrote {
		c.code, c.wrote = code, true
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *codeWriter) Write(b []byte) (int, error) {
	c.wrote = true
	return c.ResponseWriter.Write(b)
}

func (c *codeWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// passwordChanged removes the first start's password file once the first admin has changed the
// password it holds: the file would only keep a stale secret on disk.
func (s *Server) passwordChanged(u store.User) {
	if u.Username != DefaultAdminUsername {
		return
	}
	path := filepath.Join(s.cfg.DataDir, AdminPasswordFile)
	switch err := os.Remove(path); {
	case err == nil:
		s.cfg.Logger.Info("the first admin password was changed: its file is removed", "file", path)
	case !errors.Is(err, fs.ErrNotExist):
		s.cfg.Logger.Warn("could not remove the first admin password's file", "file", path, "error", err)
	}
}
