package forward

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"regexp"
	"strings"
	"time"
)

// Destination types.
const (
	TypeWebhook = "webhook" // HTTP POST per finding: JSON, or Slack-compatible text
	TypeSyslog  = "syslog"  // RFC 5424 over UDP, TCP or TLS; RFC 5424 text or CEF
	TypeHEC     = "hec"     // Splunk HTTP Event Collector
	TypeFile    = "file"    // JSON lines in ECS field names, appended to a file
)

// Formats.
const (
	FormatJSON  = "json"  // webhook: the Alert as JSON
	FormatSlack = "slack" // webhook: {"text": ...} with Slack mrkdwn, for Slack, Mattermost, Teams workflows
	FormatText  = "text"  // syslog: RFC 5424 with structured data and a one-line message
	FormatCEF   = "cef"   // syslog: the message is an ArcSight CEF record
)

// Config describes one destination. It is what an admin edits on the settings page and what
// the store keeps; Validate checks it before use.
type Config struct {
	// Name identifies the destination (letters, digits, '-', '_', '.'; up to 64).
	Name    string `json:"name"`
	Type    string `json:"type"`
	Enabled bool   `json:"enabled"`
	Format  string `json:"format,omitempty"`

	// URL is the webhook's address, or the HEC endpoint's base (https://splunk:8088): the
	// path /services/collector/event is added when the URL has no path.
	URL string `json:"url,omitempty"`
	// Secret signs webhook bodies (X-Vigil-Signature: sha256=HMAC hex), and is the HEC token.
	Secret string `json:"secret,omitempty"`
	// Headers are added to every webhook request.
	Headers map[string]string `json:"headers,omitempty"`

	// Network is udp, tcp or tls (syslog); Address host:port.
	Network string `json:"network,omitempty"`
	Address string `json:"address,omitempty"`
	// Facility is the syslog facility number (default 16, local0).
	Facility *int `json:"facility,omitempty"`

	// Index, Source and Sourcetype go into each HEC event (defaults: the token's index,
	// "vigil", "vigil:finding").
	Index      string `json:"index,omitempty"`
	Source     string `json:"source,omitempty"`
	Sourcetype string `json:"sourcetype,omitempty"`

	// Path is the file of a file destination (created 0600 when missing).
	Path string `json:"path,omitempty"`

	// CAFile holds PEM certificates to trust instead of the system roots (HTTPS and TLS);
	// ServerName overrides the name checked in the receiver's certificate.
	CAFile     string `json:"ca_file,omitempty"`
	ServerName string `json:"server_name,omitempty"`

	// TimeoutSeconds bounds one delivery attempt (default 10).
	TimeoutSeconds int `json:"timeout_s,omitempty"`

	Filter Filter `json:"filter"`
}

// Filter selects the findings a destination receives.
type Filter struct {
	// MinLevel drops findings below this level ("" lets every level through).
	MinLevel string `json:"min_level,omitempty"`
	// Rules, when not empty, keeps only findings whose rule id or name matches one of these
	// patterns (path.Match syntax: "vigil-rmm-*").
	Rules []string `json:"rules,omitempty"`
	// ExcludeRules drops findings whose rule id or name matches one of these patterns.
	ExcludeRules []string `json:"exclude_rules,omitempty"`
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Validate reports the first problem of the configuration, naming the field.
func (c *Config) Validate() error {
	if !nameRE.MatchString(c.Name) {
		return fieldErr("name", "must be 1-64 letters, digits, '.', '-' or '_', starting with a letter or digit")
	}
	switch c.Type {
	case TypeWebhook:
		if c.Format != "" && c.Format != FormatJSON && c.Format != FormatSlack {
			return fieldErr("format", "webhook format must be json or slack")
		}
		if err := checkURL(c.URL); err != nil {
			return fieldErr("url", err.Error())
		}
	case TypeHEC:
		if err := checkURL(c.URL); err != nil {
			return fieldErr("url", err.Error())
		}
		if c.Secret == "" {
			return fieldErr("secret", "the HEC token is required")
		}
	case TypeSyslog:
		if c.Format != "" && c.Format != FormatText && c.Format != FormatCEF {
			return fieldErr("format", "syslog format must be text or cef")
		}
		switch c.Network {
		case "udp", "tcp", "tls":
		default:
			return fieldErr("network", "must be udp, tcp or tls")
		}
		if !strings.Contains(c.Address, ":") {
			return fieldErr("address", "must be host:port")
		}
		if c.Facility != nil && (*c.Facility < 0 || *c.Facility > 23) {
			return fieldErr("facility", "must be 0-23")
		}
	case TypeFile:
		if c.Path == "" {
			return fieldErr("path", "is required")
		}
	default:
		return fieldErr("type", "must be webhook, syslog, hec or file")
	}
	if c.TimeoutSeconds < 0 || c.TimeoutSeconds > 300 {
		return fieldErr("timeout_s", "must be 0-300")
	}
	if c.Filter.MinLevel != "" && LevelRank(c.Filter.MinLevel) < 0 {
		return fieldErr("filter.min_level", "must be one of "+strings.Join(Levels, ", "))
	}
	for i, p := range append(append([]string{}, c.Filter.Rules...), c.Filter.ExcludeRules...) {
		if _, err := path.Match(p, ""); err != nil {
			return fieldErr(fmt.Sprintf("filter.rules[%d]", i), "bad pattern "+p)
		}
	}
	if c.CAFile != "" {
		if _, err := os.Stat(c.CAFile); err != nil {
			return fieldErr("ca_file", err.Error())
		}
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("must be an http or https URL")
	}
	if u.Host == "" {
		return errors.New("has no host")
	}
	return nil
}

// FieldError names the configuration field at fault.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(field, msg string) error { return &FieldError{Field: field, Message: msg} }

// Accepts reports whether the filter lets the alert through.
func (f *Filter) Accepts(a *Alert) bool {
	if f.MinLevel != "" && LevelRank(a.Level) < LevelRank(f.MinLevel) {
		return false
	}
	if len(f.Rules) > 0 && !matchAny(f.Rules, a) {
		return false
	}
	return !matchAny(f.ExcludeRules, a)
}

func matchAny(patterns []string, a *Alert) bool {
	for _, p := range patterns {
		for _, s := range []string{a.RuleID, a.RuleName} {
			if s == "" {
				continue
			}
			if ok, _ := path.Match(p, s); ok {
				return true
			}
		}
	}
	return false
}

func (c *Config) timeout() time.Duration {
	if c.TimeoutSeconds <= 0 {
		return 10 * time.Second
	}
	return time.Duration(c.TimeoutSeconds) * time.Second
}

// tlsConfig builds the client TLS configuration: system roots, or CAFile's certificates.
func (c *Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate in it", c.CAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// Redacted returns a copy without the secret, for display and logs.
func (c Config) Redacted() Config {
	if c.Secret != "" {
		c.Secret = "********"
	}
	return c
}
