package forward

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Headers of webhook requests.
const (
	// HeaderSignature carries "sha256=" and the hex HMAC-SHA256 of the body under the
	// destination's secret, when it has one.
	HeaderSignature = "X-Vigil-Signature"
	// HeaderFinding carries the finding id, for receivers that deduplicate.
	HeaderFinding = "X-Vigil-Finding"
)

type webhook struct {
	c      Config
	client *http.Client
}

func newWebhook(c Config) (*webhook, error) {
	hc, err := httpClient(&c)
	if err != nil {
		return nil, fmt.Errorf("destination %s: %w", c.Name, err)
	}
	return &webhook{c: c, client: hc}, nil
}

func (w *webhook) Send(ctx context.Context, a *Alert) error {
	var body []byte
	var err error
	if w.c.Format == FormatSlack {
		body, err = json.Marshal(map[string]string{"text": SlackText(a)})
	} else {
		body, err = json.Marshal(a)
	}
	if err != nil {
		return fmt.Errorf("encode alert: %w", err)
	}
	headers := map[string]string{HeaderFinding: a.ID}
	for k, v := range w.c.Headers {
		headers[k] = v
	}
	if w.c.Secret != "" {
		headers[HeaderSignature] = "sha256=" + Sign([]byte(w.c.Secret), body)
	}
	return postJSON(ctx, w.client, "webhook", w.c.URL, body, headers)
}

func (w *webhook) Close() error {
	w.client.CloseIdleConnections()
	return nil
}

// Sign is the hex HMAC-SHA256 of body under secret, as sent in HeaderSignature.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// SlackText is the Slack mrkdwn text of an alert: a level marker, the title linked to the
// finding, the host, the rule and its author.
func SlackText(a *Alert) string {
	var sb strings.Builder
	marker := map[string]string{"critical": ":red_circle:", "high": ":large_orange_circle:",
		"medium": ":large_yellow_circle:", "low": ":large_blue_circle:"}[strings.ToLower(a.Level)]
	if marker == "" {
		marker = ":white_circle:"
	}
	title := slackEscape(a.Title)
	if a.URL != "" {
		title = "<" + a.URL + "|" + title + ">"
	}
	fmt.Fprintf(&sb, "%s *%s* %s\n", marker, strings.ToUpper(a.Level), title)
	fmt.Fprintf(&sb, "Host: `%s`  Rule: `%s`", slackEscape(a.Hostname), slackEscape(a.RuleID))
	if a.Author != "" {
		fmt.Fprintf(&sb, " by %s", slackEscape(a.Author))
	}
	if a.Count > 0 {
		fmt.Fprintf(&sb, "  Count: %d", a.Count)
	}
	fmt.Fprintf(&sb, "\n%s", a.Time.UTC().Format("2006-01-02 15:04:05 MST"))
	return sb.String()
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
