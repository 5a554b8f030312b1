package forward

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// hecPath is where Splunk's HTTP Event Collector takes JSON events.
const hecPath = "/services/collector/event"

type hec struct {
	c      Config
	url    string
	client *http.Client
}

func newHEC(c Config) (*hec, error) {
	hc, err := httpClient(&c)
	if err != nil {
		return nil, fmt.Errorf("destination %s: %w", c.Name, err)
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, fmt.Errorf("destination %s: url: %w", c.Name, err)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = hecPath
	}
	return &hec{c: c, url: u.String(), client: hc}, nil
}

// HECEvent is the envelope Splunk's collector takes.
type HECEvent struct {
	Time       float64 `json:"time"`
	Host       string  `json:"host,omitempty"`
	Source     string  `json:"source,omitempty"`
	Sourcetype string  `json:"sourcetype,omitempty"`
	Index      string  `json:"index,omitempty"`
	Event      *Alert  `json:"event"`
}

func (h *hec) Send(ctx context.Context, a *Alert) error {
	ev := HECEvent{
		Time:       float64(a.Time.UnixMilli()) / 1000,
		Host:       a.Hostname,
		Source:     h.c.Source,
		Sourcetype: h.c.Sourcetype,
		Index:      h.c.Index,
		Event:      a,
	}
	if ev.Source == "" {
		ev.Source = "vigil"
	}
	if ev.Sourcetype == "" {
		ev.Sourcetype = "vigil:finding"
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode HEC event: %w", err)
	}
	return postJSON(ctx, h.client, "HEC", h.url, body, map[string]string{"Authorization": "Splunk " + h.c.Secret})
}

func (h *hec) Close() error {
	h.client.CloseIdleConnections()
	return nil
}
