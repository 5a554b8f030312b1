package forward

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/vigilhq/vigil/internal/version"
)

// Forwarder delivers one alert to one destination. Send returns nil only once the receiver
// has taken the alert (an HTTP 2xx, a written stream record, a sent datagram); any error
// means the delivery will be tried again. A Forwarder is used by one goroutine at a time.
type Forwarder interface {
	Send(ctx context.Context, a *Alert) error
	Close() error
}

// New builds the Forwarder of a validated configuration.
func New(c Config) (Forwarder, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	switch c.Type {
	case TypeWebhook:
		return newWebhook(c)
	case TypeHEC:
		return newHEC(c)
	case TypeSyslog:
		return newSyslog(c)
	case TypeFile:
		return newFile(c)
	}
	return nil, fmt.Errorf("destination %s: unknown type %q", c.Name, c.Type)
}

// httpClient is the client of the HTTP destinations: its own transport (CAFile's roots) and
// the per-attempt timeout.
func httpClient(c *Config) (*http.Client, error) {
	tc, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	return &http.Client{Transport: tr, Timeout: c.timeout()}, nil
}

// postJSON posts a JSON body with the given headers and reads the answer into an error
// unless it is a 2xx. what names the destination type in errors.
func postJSON(ctx context.Context, client *http.Client, what, url string, body []byte, headers map[string]string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s request: %w", what, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vigil/"+version.Version)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	return fmt.Errorf("%s: HTTP %d: %s", what, resp.StatusCode, trimBody(answer))
}

func trimBody(b []byte) string {
	s := string(b)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
