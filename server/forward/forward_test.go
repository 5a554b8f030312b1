package forward_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/server/forward"
)

func sampleAlert() *forward.Alert {
	return &forward.Alert{
		ID: "01JDEMO0000000000000000001", RuleID: "vigil-rmm-anydesk", RuleName: "rmm_anydesk",
		Title: "AnyDesk started | remote control", Level: "high", Author: "Vigil project, Jane Doe",
		Tags: []string{"attack.t1219", "attack.command_and_control"}, Time: time.Date(2026, 11, 22, 10, 0, 0, 123e6, time.UTC),
		HostID: "h-42", Hostname: "laptop-42", Evidence: 2,
		URL: "https://vigil.example:8443/findings/01JDEMO0000000000000000001",
	}
}

func TestFilter(t *testing.T) {
	a := sampleAlert()
	for _, tc := range []struct {
		f    forward.Filter
		want bool
	}{
		{forward.Filter{}, true},
		{forward.Filter{MinLevel: "high"}, true},
		{forward.Filter{MinLevel: "critical"}, false},
		{forward.Filter{MinLevel: "low"}, true},
		{forward.Filter{Rules: []string{"vigil-rmm-*"}}, true},
		{forward.Filter{Rules: []string{"rmm_*"}}, true}, // by rule name
		{forward.Filter{Rules: []string{"vigil-kvm-*"}}, false},
		{forward.Filter{ExcludeRules: []string{"*anydesk"}}, false},
		{forward.Filter{Rules: []string{"vigil-*"}, ExcludeRules: []string{"vigil-kvm-*"}}, true},
	} {
		if got := tc.f.Accepts(a); got != tc.want {
			t.Errorf("%+v accepts = %v, want %v", tc.f, got, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		c     forward.Config
		field string
	}{
		{forward.Config{Name: "", Type: forward.TypeWebhook, URL: "http://x"}, "name"},
		{forward.Config{Name: "a b", Type: forward.TypeWebhook, URL: "http://x"}, "name"},
		{forward.Config{Name: "a", Type: "email"}, "type"},
		{forward.Config{Name: "a", Type: forward.TypeWebhook, URL: "ftp://x"}, "url"},
		{forward.Config{Name: "a", Type: forward.TypeWebhook, URL: "http://x", Format: "cef"}, "format"},
		{forward.Config{Name: "a", Type: forward.TypeHEC, URL: "https://splunk:8088"}, "secret"},
		{forward.Config{Name: "a", Type: forward.TypeSyslog, Network: "sctp", Address: "x:514"}, "network"},
		{forward.Config{Name: "a", Type: forward.TypeSyslog, Network: "udp", Address: "x"}, "address"},
		{forward.Config{Name: "a", Type: forward.TypeSyslog, Network: "udp", Address: "x:1", Facility: new(int(24))}, "facility"},
		{forward.Config{Name: "a", Type: forward.TypeFile}, "path"},
		{forward.Config{Name: "a", Type: forward.TypeWebhook, URL: "http://x", Filter: forward.Filter{MinLevel: "severe"}}, "filter.min_level"},
		{forward.Config{Name: "a", Type: forward.TypeWebhook, URL: "http://x", Filter: forward.Filter{Rules: []string{"["}}}, "filter.rules[0]"},
		{forward.Config{Name: "a", Type: forward.TypeWebhook, URL: "http://x", CAFile: "/nonexistent/ca.pem"}, "ca_file"},
	} {
		err := tc.c.Validate()
		var fe *forward.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%+v: error %v, want one naming %s", tc.c, err, tc.field)
		}
	}
	ok := forward.Config{Name: "siem-1", Type: forward.TypeSyslog, Network: "tls", Address: "siem:6514", Format: forward.FormatCEF}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
	if r := (forward.Config{Secret: "s3cret"}).Redacted(); r.Secret == "s3cret" {
		t.Error("Redacted kept the secret")
	}
}

// rfc5424 is the message grammar of RFC 5424 section 6 with one SD element.
var rfc5424 = regexp.MustCompile(`^<(\d{1,3})>1 (\S+) (\S+) vigil - finding \[vigil@32473( [a-z_]+="(?:[^"\\\]]|\\["\\\]])*")+\] (.+)$`)

func TestFormatRFC5424(t *testing.T) {
	a := sampleAlert()
	a.Title = `quote " bracket ] backslash \`
	msg := forward.FormatRFC5424(a, 16, "vigil server", false)
	m := rfc5424.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("not RFC 5424: %s", msg)
	}
	if m[1] != "131" { // local0 (16*8) + error (3) for high
		t.Errorf("PRI = %s, want 131", m[1])
	}
	if m[2] != "2026-11-22T10:00:00.123000Z" {
		t.Errorf("timestamp = %s", m[2])
	}
	if m[3] != "vigilserver" {
		t.Errorf("hostname = %q, want spaces dropped", m[3])
	}
	for _, want := range []string{`id="01JDEMO0000000000000000001"`, `rule_id="vigil-rmm-anydesk"`, `host="laptop-42"`,
		`level="high"`, `tags="attack.t1219,attack.command_and_control"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %s: %s", want, msg)
		}
	}
	if !strings.HasSuffix(msg, `[HIGH] quote " bracket ] backslash \ on laptop-42`) {
		t.Errorf("message text: %s", msg)
	}
	a.Level = "critical"
	a.RuleName = `a"b]c\d`
	msg = forward.FormatRFC5424(a, 4, "", false)
	if !strings.HasPrefix(msg, "<34>1 ") || !strings.Contains(msg, ` - vigil - finding`) {
		t.Errorf("critical/auth: %s", msg)
	}
	if !strings.Contains(msg, `rule_name="a\"b\]c\\d"`) {
		t.Errorf("SD value not escaped: %s", msg)
	}
	if rfc5424.FindStringSubmatch(msg) == nil {
		t.Errorf("escaped message not RFC 5424: %s", msg)
	}
}

func TestCEF(t *testing.T) {
	a := sampleAlert()
	a.Title = `pipe | and back\slash`
	a.Group = map[string]string{"DefaultGatewayMac": "aa:bb", "A": "1=2"}
	a.Count = 3
	s := forward.CEF(a)
	wantHead := `CEF:0|Vigil|Vigil|dev|vigil-rmm-anydesk|pipe \| and back\\slash|8|`
	if !strings.HasPrefix(s, wantHead) {
		t.Fatalf("forward.CEF header:\n got %s\nwant %s...", s, wantHead)
	}
	for _, want := range []string{"rt=1795341600123", "dhost=laptop-42", "externalId=01JDEMO0000000000000000001",
		"cs1Label=level cs1=high", `cs5Label=group cs5=A:1\=2,DefaultGatewayMac:aa:bb`, "cnt=3",
		`request=https://vigil.example:8443/findings/01JDEMO0000000000000000001`} {
		if !strings.Contains(s, want) {
			t.Errorf("forward.CEF lacks %q: %s", want, s)
		}
	}
	a.Author = ""
	if s := forward.CEF(a); strings.Contains(s, "cs2Label") {
		t.Errorf("label without a value: %s", s)
	}
	if strings.Contains(forward.CEF(&forward.Alert{Title: "a\nb", Level: "low"}), "\n") {
		t.Error("line break in CEF")
	}
}

func TestECS(t *testing.T) {
	doc := forward.ECS(sampleAlert())
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Timestamp string `json:"@timestamp"`
		Event     struct {
			Kind     string   `json:"kind"`
			ID       string   `json:"id"`
			Severity int      `json:"severity"`
			Category []string `json:"category"`
			URL      string   `json:"url"`
		} `json:"event"`
		Rule struct {
			ID     string   `json:"id"`
			Name   string   `json:"name"`
			Author []string `json:"author"`
		} `json:"rule"`
		Host struct {
			Name string `json:"name"`
			ID   string `json:"id"`
		} `json:"host"`
		Tags    []string `json:"tags"`
		Message string   `json:"message"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Timestamp != "2026-11-22T10:00:00.123Z" || got.Event.Kind != "alert" || got.Event.ID != "01JDEMO0000000000000000001" ||
		got.Event.Severity != 73 || got.Event.Category[0] != "intrusion_detection" || got.Event.URL == "" ||
		got.Rule.ID != "vigil-rmm-anydesk" || got.Rule.Name != "rmm_anydesk" ||
		strings.Join(got.Rule.Author, "|") != "Vigil project|Jane Doe" || got.Host.Name != "laptop-42" || got.Host.ID != "h-42" ||
		len(got.Tags) != 2 || !strings.Contains(got.Message, "laptop-42") {
		t.Errorf("forward.ECS document: %s", b)
	}
}

func TestSlackText(t *testing.T) {
	a := sampleAlert()
	a.Title = "<script> & co"
	s := forward.SlackText(a)
	if !strings.Contains(s, "<"+a.URL+"|&lt;script&gt; &amp; co>") || !strings.HasPrefix(s, ":large_orange_circle: *HIGH*") ||
		!strings.Contains(s, "`laptop-42`") || !strings.Contains(s, "by Vigil project, Jane Doe") {
		t.Errorf("slack text: %s", s)
	}
}

func send(t *testing.T, c forward.Config, a *forward.Alert) error {
	t.Helper()
	f, err := forward.New(c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer f.Close()
	return f.Send(context.Background(), a)
}

func TestWebhookJSONSigned(t *testing.T) {
	r := newHTTPReceiver(t)
	r.start()
	c := forward.Config{Name: "hook", Type: forward.TypeWebhook, Enabled: true, URL: r.URL() + "/vigil", Secret: "k3y",
		Headers: map[string]string{"X-Team": "secops"}}
	if err := send(t, c, sampleAlert()); err != nil {
		t.Fatal(err)
	}
	got := r.requests()
	if len(got) != 1 {
		t.Fatalf("%d requests", len(got))
	}
	req := got[0]
	var a forward.Alert
	if err := json.Unmarshal([]byte(req.Body), &a); err != nil || a.ID != sampleAlert().ID || a.Author == "" {
		t.Fatalf("body %s: %v", req.Body, err)
	}
	if req.Path != "/vigil" || req.Header.Get("X-Team") != "secops" || req.Header.Get(forward.HeaderFinding) != a.ID {
		t.Errorf("path %s headers %v", req.Path, req.Header)
	}
	if sig := req.Header.Get(forward.HeaderSignature); sig != "sha256="+forward.Sign([]byte("k3y"), []byte(req.Body)) {
		t.Errorf("signature %q does not verify", sig)
	}
}

func TestWebhookSlack(t *testing.T) {
	r := newHTTPReceiver(t)
	r.start()
	c := forward.Config{Name: "slack", Type: forward.TypeWebhook, Format: forward.FormatSlack, URL: r.URL()}
	if err := send(t, c, sampleAlert()); err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(r.requests()[0].Body), &body); err != nil {
		t.Fatal(err)
	}
	if len(body) != 1 || !strings.Contains(body["text"], "*HIGH*") {
		t.Errorf("slack body %v", body)
	}
	if r.requests()[0].Header.Get(forward.HeaderSignature) != "" {
		t.Error("signed without a secret")
	}
}

func TestWebhookErrorStatus(t *testing.T) {
	c := forward.Config{Name: "down", Type: forward.TypeWebhook, URL: newHTTPReceiver(t).URL()}
	if err := send(t, c, sampleAlert()); err == nil {
		t.Fatal("send to a closed port succeeded")
	}
}

func TestHEC(t *testing.T) {
	r := newHTTPReceiver(t)
	r.start()
	c := forward.Config{Name: "splunk", Type: forward.TypeHEC, URL: r.URL(), Secret: "hec-token", Index: "security"}
	if err := send(t, c, sampleAlert()); err != nil {
		t.Fatal(err)
	}
	req := r.requests()[0]
	if req.Path != "/services/collector/event" || req.Header.Get("Authorization") != "Splunk hec-token" {
		t.Errorf("path %s auth %q", req.Path, req.Header.Get("Authorization"))
	}
	var ev forward.HECEvent
	if err := json.Unmarshal([]byte(req.Body), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Time != 1795341600.123 || ev.Host != "laptop-42" || ev.Sourcetype != "vigil:finding" || ev.Source != "vigil" ||
		ev.Index != "security" || ev.Event == nil || ev.Event.RuleID != "vigil-rmm-anydesk" {
		t.Errorf("HEC event %s", req.Body)
	}
}

func TestSyslogUDP(t *testing.T) {
	u := newUDPReceiver(t)
	c := forward.Config{Name: "udp", Type: forward.TypeSyslog, Network: "udp", Address: u.conn.LocalAddr().String()}
	if err := send(t, c, sampleAlert()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the datagram", func() bool { return len(u.messages()) == 1 })
	if m := u.messages()[0]; rfc5424.FindStringSubmatch(m) == nil {
		t.Errorf("not RFC 5424 (UDP carries no framing): %q", m)
	}
}

func TestSyslogTCPAndTLS(t *testing.T) {
	serverTLS, caFile := testTLS(t)
	for _, tc := range []struct {
		network string
		tls     *tls.Config
		format  string
	}{{"tcp", nil, forward.FormatText}, {"tls", serverTLS, forward.FormatCEF}} {
		t.Run(tc.network, func(t *testing.T) {
			r := newStreamReceiver(t, tc.tls)
			r.start()
			c := forward.Config{Name: "s", Type: forward.TypeSyslog, Network: tc.network, Address: r.addr, Format: tc.format, CAFile: caFile}
			f, err := forward.New(c)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for i := range 3 {
				a := sampleAlert()
				a.ID = a.ID[:len(a.ID)-1] + string(rune('a'+i))
				if err := f.Send(context.Background(), a); err != nil {
					t.Fatal(err)
				}
			}
			eventually(t, "three frames", func() bool { return len(r.messages()) == 3 })
			for _, m := range r.messages() {
				if rfc5424.FindStringSubmatch(m) == nil {
					t.Errorf("frame not RFC 5424: %q", m)
				}
				if tc.format == forward.FormatCEF && !strings.Contains(m, "] CEF:0|Vigil|Vigil|") {
					t.Errorf("no forward.CEF message: %q", m)
				}
			}
		})
	}
}

func TestSyslogTLSRefusesUntrusted(t *testing.T) {
	serverTLS, _ := testTLS(t)
	r := newStreamReceiver(t, serverTLS)
	r.start()
	c := forward.Config{Name: "s", Type: forward.TypeSyslog, Network: "tls", Address: r.addr}
	err := send(t, c, sampleAlert())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted receiver: err = %v, want a certificate error", err)
	}
}

func TestSyslogReconnects(t *testing.T) {
	r := newStreamReceiver(t, nil)
	r.start()
	c := forward.Config{Name: "s", Type: forward.TypeSyslog, Network: "tcp", Address: r.addr}
	f, err := forward.New(c)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Send(context.Background(), sampleAlert()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first frame", func() bool { return len(r.messages()) == 1 })
	r.stop()
	// the receiver is down: the open connection is dead, and the send says so
	if err := f.Send(context.Background(), sampleAlert()); err == nil {
		t.Fatal("send to a stopped receiver reported success")
	}
	// it comes back on the same address: the next send reconnects
	r2 := &streamReceiver{t: t, addr: r.addr}
	r2.start()
	if err := f.Send(context.Background(), sampleAlert()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the frame after the restart", func() bool { return len(r2.messages()) == 1 })
}

func TestFileECS(t *testing.T) {
	path := filepath.Join(t.TempDir(), "export", "vigil.ndjson")
	c := forward.Config{Name: "file", Type: forward.TypeFile, Path: path}
	for range 2 {
		if err := send(t, c, sampleAlert()); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &doc); err != nil || doc["@timestamp"] == nil {
		t.Errorf("line %s: %v", lines[0], err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("export mode %v, want 0600", fi.Mode().Perm())
	}
}
