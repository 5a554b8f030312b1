package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/rdservers"
	"github.com/vigilhq/vigil/server/pki"
	"github.com/vigilhq/vigil/server/store"
)

// Secrets every scenario server is started with (VIGIL_ENROLL_SECRET, VIGIL_ADMIN_TOKEN and the
// first admin's password, as automation sets them).
const (
	EnrollSecret  = "vge_scenario-enroll-secret-0123456789abcdef"
	AdminToken    = "vgt_scenario-admin-token-0123456789abcdef"
	AdminPassword = "scenario-admin-password-0123"
)

// ServerOptions configures a scenario's `vigil server`.
type ServerOptions struct {
	// Listen is the address (default: a free port on 127.0.0.1).
	Listen string
	// Hostnames are added to the generated certificate (the listen host is added for you).
	Hostnames []string
	// DB is a PostgreSQL URL (default: SQLite in the data folder).
	DB string
	// CheckinInterval told to the agents (default 5 s).
	CheckinInterval time.Duration
	// Args are more flags (office networks, fleet interval...).
	Args []string
}

// Server is a running `vigil server` and an admin client of it.
type Server struct {
	URL  string
	Pin  string
	Data string
	Proc *rdservers.Proc
	// CheckinInterval is the interval the agents were told.
	CheckinInterval time.Duration

	t      testing.TB
	client *http.Client
}

var pinRE = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// StartServer starts `vigil server` and waits until it answers.
func StartServer(t testing.TB, o ServerOptions) *Server {
	t.Helper()
	if o.Listen == "" {
		o.Listen = fmt.Sprintf("127.0.0.1:%d", rdservers.FreePort(t))
	}
	if o.CheckinInterval == 0 {
		o.CheckinInterval = 5 * time.Second
	}
	host, _, err := net.SplitHostPort(o.Listen)
	if err != nil {
		t.Fatalf("listen %q: %v", o.Listen, err)
	}
	s := &Server{URL: "https://" + o.Listen, Data: t.TempDir(), t: t, CheckinInterval: o.CheckinInterval}
	args := []string{"server", "--data", s.Data, "--listen", o.Listen, "--hostname", host,
		"--admin-token", AdminToken, "--enroll-secret", EnrollSecret, "--admin-password", AdminPassword,
		"--checkin-interval", o.CheckinInterval.String(), "--log-level", "info"}
	for _, h := range o.Hostnames {
		args = append(args, "--hostname", h)
	}
	if o.DB != "" {
		args = append(args, "--db", o.DB)
	}
	args = append(args, o.Args...)
	s.Proc = rdservers.Start(t, Binary(t), args...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("vigil server's log (last lines):\n%s", LastLines(s.Proc.Output(), 40))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for s.Pin == "" {
		s.Pin = pinRE.FindString(s.Proc.Output())
		if s.Pin != "" {
			break
		}
		if s.Proc.Exited() {
			t.Fatalf("vigil server exited:\n%s", s.Proc.Output())
		}
		if time.Now().After(deadline) {
			t.Fatalf("vigil server printed no CA pin within 60 s:\n%s", s.Proc.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	ca, err := os.ReadFile(filepath.Join(s.Data, "tls", pki.CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	s.client = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	WaitFor(t, 60*time.Second, "the server answering", func() bool {
		resp, err := s.client.Get(s.URL + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return s
}

// Client is an HTTP client that trusts the server's CA (no credentials).
func (s *Server) Client() *http.Client { return s.client }

// Get reads an admin API path (with the admin token) into v.
func (s *Server) Get(path string, v any) error {
	req, err := http.NewRequest(http.MethodGet, s.URL+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+AdminToken)
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// Findings lists the findings the filter selects (GET /api/v1/findings), following pages.
func (s *Server) Findings(filter url.Values) ([]store.Finding, error) {
	var all []store.Finding
	q := url.Values{}
	for k, v := range filter {
		q[k] = v
	}
	q.Set("limit", "500")
	for {
		var page struct {
			Findings   []store.Finding `json:"findings"`
			NextCursor string          `json:"next_cursor"`
		}
		if err := s.Get("/api/v1/findings?"+q.Encode(), &page); err != nil {
			return nil, err
		}
		all = append(all, page.Findings...)
		if page.NextCursor == "" || len(page.Findings) == 0 {
			return all, nil
		}
		q.Set("cursor", page.NextCursor)
	}
}

// HostSummary is a host as a finding's detail names it.
type HostSummary struct {
	ID       string `json:"id"`
	Hostname string `json:"hostname"`
	EgressIP string `json:"egress_ip"`
}

// Detail is a finding with its evidence events (GET /api/v1/findings/{id}).
type Detail struct {
	Finding  store.Finding `json:"finding"`
	Hosts    []HostSummary `json:"hosts"`
	Evidence []Event       `json:"evidence"`
}

// Event is an evidence event with its fields decoded.
type Event struct {
	ID       string         `json:"id"`
	Category string         `json:"category"`
	Time     time.Time      `json:"time"`
	Fields   map[string]any `json:"fields"`
}

// Str is a field as a string ("" when absent).
func (e Event) Str(field string) string {
	switch v := e.Fields[field].(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// Detail reads a finding with its evidence.
func (s *Server) Detail(id string) (*Detail, error) {
	var d Detail
	if err := s.Get("/api/v1/findings/"+url.PathEscape(id), &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Host is a host as GET /api/v1/hosts lists it.
type Host struct {
	ID        string `json:"id"`
	MachineID string `json:"machine_id"`
	Hostname  string `json:"hostname"`
	EgressIP  string `json:"egress_ip"`
}

// HostByMachineID finds the host enrolled with a machine id ("" when none is).
func (s *Server) HostByMachineID(machineID string) (Host, error) {
	var page struct {
		Hosts []Host `json:"hosts"`
	}
	if err := s.Get("/api/v1/hosts?limit=500&q="+url.QueryEscape(machineID), &page); err != nil {
		return Host{}, err
	}
	for _, h := range page.Hosts {
		if h.MachineID == machineID {
			return h, nil
		}
	}
	return Host{}, nil
}

// WaitFor polls cond every 50 ms until it holds, failing the test after d.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// LastLines is the end of a log, n lines at most.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
