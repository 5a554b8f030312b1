package forward

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigilhq/vigil/internal/version"
)

// SDID is the structured-data id of Vigil's syslog element. 32473 is the private enterprise
// number RFC 5612 reserves for documentation and examples.
const SDID = "vigil@32473"

// defaultFacility is local0.
const defaultFacility = 16

type syslogFwd struct {
	c        Config
	hostname string
	tls      *tls.Config
	conn     net.Conn
}

func newSyslog(c Config) (*syslogFwd, error) {
	s := &syslogFwd{c: c}
	s.hostname, _ = os.Hostname()
	if s.hostname == "" {
		s.hostname = "-"
	}
	if c.Network == "tls" {
		tc, err := c.tlsConfig()
		if err != nil {
			return nil, fmt.Errorf("destination %s: %w", c.Name, err)
		}
		if tc.ServerName == "" {
			tc.ServerName, _, _ = net.SplitHostPort(c.Address)
		}
		s.tls = tc
	}
	return s, nil
}

func (s *syslogFwd) dial(ctx context.Context) (net.Conn, error) {
	d := &net.Dialer{Timeout: s.c.timeout()}
	switch s.c.Network {
	case "tls":
		td := &tls.Dialer{NetDialer: d, Config: s.tls}
		return td.DialContext(ctx, "tcp", s.c.Address)
	case "tcp":
		return d.DialContext(ctx, "tcp", s.c.Address)
	default:
		return d.DialContext(ctx, "udp", s.c.Address)
	}
}

func (s *syslogFwd) Send(ctx context.Context, a *Alert) error {
	facility := defaultFacility
	if s.c.Facility != nil {
		facility = *s.c.Facility
	}
	msg := FormatRFC5424(a, facility, s.hostname, s.c.Format == FormatCEF)
	if s.c.Network != "udp" {
		// RFC 6587 octet counting, the framing RFC 5425 requires over TLS.
		msg = strconv.Itoa(len(msg)) + " " + msg
	}
	if s.conn == nil {
		conn, err := s.dial(ctx)
		if err != nil {
			return fmt.Errorf("syslog %s %s: %w", s.c.Network, s.c.Address, err)
		}
		s.conn = conn
	}
	deadline := time.Now().Add(s.c.timeout())
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = s.conn.SetWriteDeadline(deadline)
	if _, err := s.conn.Write([]byte(msg)); err != nil {
		s.conn.Close()
		s.conn = nil
		return fmt.Errorf("syslog %s %s: %w", s.c.Network, s.c.Address, err)
	}
	if s.c.Network != "udp" && peerClosed(s.conn) {
		// A stream the receiver closed accepts one write into the kernel's buffer before it
		// fails: check, so the record is not reported delivered when it went nowhere.
		s.conn.Close()
		s.conn = nil
		return fmt.Errorf("syslog %s %s: connection closed by the receiver", s.c.Network, s.c.Address)
	}
	return nil
}

// peerClosed reports whether the receiver has closed the connection: a read that does not
// time out at once means EOF or a reset. Syslog receivers never write back.
func peerClosed(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
	var b [1]byte
	_, err := c.Read(b[:])
	_ = c.SetReadDeadline(time.Time{})
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

func (s *syslogFwd) Close() error {
	if s.conn != nil {
		err := s.conn.Close()
		s.conn = nil
		return err
	}
	return nil
}

// FormatRFC5424 renders an alert as one RFC 5424 syslog message (without transport framing):
// PRI from the facility and the level, the finding's time, the server's hostname, app-name
// "vigil", msgid "finding", an SD element SDID with the finding's fields, and as message the
// one-line summary, or with cef a CEF record.
func FormatRFC5424(a *Alert, facility int, hostname string, cef bool) string {
	pri := facility*8 + scale(a.Level).syslog
	var sb strings.Builder
	fmt.Fprintf(&sb, "<%d>1 %s %s vigil - finding ", pri,
		a.Time.UTC().Format("2006-01-02T15:04:05.000000Z"), headerField(hostname, 255))
	sb.WriteString("[" + SDID)
	param := func(k, v string) {
		if v != "" {
			sb.WriteString(" " + k + `="` + sdEscape(v) + `"`)
		}
	}
	param("id", a.ID)
	param("rule_id", a.RuleID)
	param("rule_name", a.RuleName)
	param("level", a.Level)
	param("host", a.Hostname)
	param("host_id", a.HostID)
	param("author", a.Author)
	if len(a.Tags) > 0 {
		param("tags", strings.Join(a.Tags, ","))
	}
	if a.Count > 0 {
		param("count", strconv.Itoa(a.Count))
	}
	param("url", a.URL)
	sb.WriteString("] ")
	if cef {
		sb.WriteString(CEF(a))
	} else {
		sb.WriteString(a.Summary())
	}
	return sb.String()
}

// headerField makes s a valid RFC 5424 header field: printable US-ASCII without spaces, at
// most max characters, "-" when empty.
func headerField(s string, max int) string {
	b := []byte(s)
	out := b[:0]
	for _, c := range b {
		if c > 32 && c < 127 {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return "-"
	}
	if len(out) > max {
		out = out[:max]
	}
	return string(out)
}

// sdEscape escapes '"', '\' and ']' in a structured-data parameter value (RFC 5424 6.3.3).
func sdEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`).Replace(s)
}

// CEF renders an alert as an ArcSight Common Event Format record:
// CEF:0|Vigil|Vigil|version|rule id|title|severity|extension.
func CEF(a *Alert) string {
	h := func(s string) string {
		return strings.NewReplacer(`\`, `\\`, `|`, `\|`, "\r", " ", "\n", " ").Replace(s)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "CEF:0|Vigil|Vigil|%s|%s|%s|%d|", h(version.Version), h(a.RuleID), h(a.Title), scale(a.Level).cef)
	ext := [][2]string{
		{"rt", strconv.FormatInt(a.Time.UnixMilli(), 10)},
		{"dhost", a.Hostname},
		{"externalId", a.ID},
		{"cs1Label", "level"}, {"cs1", a.Level},
		{"cs2Label", "author"}, {"cs2", a.Author},
		{"cs3Label", "tags"}, {"cs3", strings.Join(a.Tags, ",")},
		{"cs4Label", "rule_name"}, {"cs4", a.RuleName},
		{"cs5Label", "group"}, {"cs5", groupString(a.Group)},
		{"cs6Label", "host_id"}, {"cs6", a.HostID},
		{"request", a.URL},
		{"msg", a.Summary()},
	}
	if a.Count > 0 {
		ext = append(ext, [2]string{"cnt", strconv.Itoa(a.Count)})
	}
	first := true
	for i := 0; i < len(ext); i++ {
		k, v := ext[i][0], ext[i][1]
		if strings.HasSuffix(k, "Label") {
			// a label travels only with its value
			if ext[i+1][1] == "" {
				i++
				continue
			}
		}
		if v == "" {
			continue
		}
		if !first {
			sb.WriteByte(' ')
		}
		first = false
		sb.WriteString(k + "=" + cefExtEscape(v))
	}
	return sb.String()
}

// cefExtEscape escapes an extension value: '\', '=' and line breaks.
func cefExtEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `=`, `\=`, "\r\n", `\n`, "\n", `\n`, "\r", `\r`).Replace(s)
}

func groupString(g map[string]string) string {
	keys := make([]string, 0, len(g))
	for k := range g {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ":" + g[k]
	}
	return strings.Join(parts, ",")
}
