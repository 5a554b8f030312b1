package transport

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigilhq/vigil/internal/wire"
)

// Config configures a Client.
type Config struct {
	// ServerURL is the server's base URL (https://vigil.example.com:8443). http:// is refused
	// unless the host is a loopback address.
	ServerURL string
	// CAPin is "sha256:<hex>" of the server CA's certificate (DER), as `vigil server` prints
	// it; CAFile a PEM file of the CA. Without either, the system's roots are used.
	CAPin  string
	CAFile string
	// Timeout bounds each request (default 30 s).
	Timeout time.Duration
	// UserAgent is sent with every request.
	UserAgent string
}

// Client talks to one server. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	http      *http.Client
	userAgent string
	mu        sync.RWMutex
	token     string
}

// maxResponseBytes caps what the client reads of an answer (a policy bundle is the largest).
const maxResponseBytes = wire.MaxDecodedBytes

// gzipAbove is the body size from which requests are compressed.
const gzipAbove = 1024

// gzipWriters keeps compressors between requests: each holds close to a megabyte of tables, too
// much to allocate per batch in a process that aims at a resident set of a few megabytes.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

// New checks the configuration and returns a client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.ServerURL, "/"))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want https://host[:port]", cfg.ServerURL)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !IsLoopback(u.Hostname()) {
			return nil, fmt.Errorf("server URL %q: plain http is only allowed to a loopback server; use https", cfg.ServerURL)
		}
		if cfg.CAPin != "" || cfg.CAFile != "" {
			return nil, fmt.Errorf("server URL %q: a CA pin or CA file needs an https URL", cfg.ServerURL)
		}
	default:
		return nil, fmt.Errorf("server URL %q: scheme must be https (or http to a loopback server)", cfg.ServerURL)
	}
	if u.Path != "" || u.RawQuery != "" {
		return nil, fmt.Errorf("server URL %q: give the server's base URL, without a path", cfg.ServerURL)
	}
	tlsConf, err := tlsConfig(u.Hostname(), cfg.CAPin, cfg.CAFile)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     tlsConf,
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     90 * time.Second,
		MaxIdleConnsPerHost: 2,
		ForceAttemptHTTP2:   true,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}
	return &Client{base: u, http: &http.Client{Transport: tr, Timeout: cfg.Timeout}, userAgent: cfg.UserAgent}, nil
}

// IsLoopback reports whether host (a name or an address) is this machine's loopback.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SetToken sets the agent token sent as a bearer token.
func (c *Client) SetToken(token string) {
	c.mu.Lock()
	c.token = token
	c.mu.Unlock()
}

// CloseIdle closes idle connections (at shutdown).
func (c *Client) CloseIdle() { c.http.CloseIdleConnections() }

// Enroll enrolls the agent with the enroll secret.
func (c *Client) Enroll(ctx context.Context, req *wire.EnrollRequest) (*wire.EnrollResponse, error) {
	var resp wire.EnrollResponse
	if err := c.do(ctx, http.MethodPost, wire.PathEnroll, req, &resp, false); err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	if resp.Token == "" || resp.AgentID == "" {
		return nil, errors.New("enroll: the server's answer has no agent id or token")
	}
	return &resp, nil
}

// SendBatch sends one batch; a nil error means the server committed it.
func (c *Client) SendBatch(ctx context.Context, b *wire.Batch) (*wire.BatchResponse, error) {
	var resp wire.BatchResponse
	if err := c.do(ctx, http.MethodPost, wire.PathBatch, b, &resp, true); err != nil {
		return nil, fmt.Errorf("send batch: %w", err)
	}
	return &resp, nil
}

// Checkin sends a heartbeat with the agent's health.
func (c *Client) Checkin(ctx context.Context, req *wire.CheckinRequest) (*wire.CheckinResponse, error) {
	var resp wire.CheckinResponse
	if err := c.do(ctx, http.MethodPost, wire.PathCheckin, req, &resp, true); err != nil {
		return nil, fmt.Errorf("check-in: %w", err)
	}
	return &resp, nil
}

// FetchPolicy downloads the current policy bundle. It does not verify it: the caller does,
// with the key from enrollment.
func (c *Client) FetchPolicy(ctx context.Context) (*wire.Bundle, error) {
	var b wire.Bundle
	if err := c.do(ctx, http.MethodGet, wire.PathPolicy, nil, &b, true); err != nil {
		return nil, fmt.Errorf("fetch policy: %w", err)
	}
	return &b, nil
}

func (c *Client) do(ctx context.Context, method, path string, in, out any, auth bool) error {
	var body io.Reader
	var encoding string
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		if len(raw) > wire.MaxDecodedBytes {
			return &StatusError{Status: http.StatusRequestEntityTooLarge, Err: wire.Error{Code: wire.CodeTooLarge, Message: fmt.Sprintf("request of %d bytes is over the protocol's limit", len(raw))}}
		}
		if len(raw) > gzipAbove {
			var buf bytes.Buffer
			zw := gzipWriters.Get().(*gzip.Writer)
			zw.Reset(&buf)
			_, _ = zw.Write(raw)
			err := zw.Close()
			gzipWriters.Put(zw)
			if err != nil {
				return fmt.Errorf("compress request: %w", err)
			}
			raw, encoding = buf.Bytes(), "gzip"
		}
		if len(raw) > wire.MaxBodyBytes {
			return &StatusError{Status: http.StatusRequestEntityTooLarge, Err: wire.Error{Code: wire.CodeTooLarge, Message: fmt.Sprintf("request body of %d bytes is over the protocol's limit", len(raw))}}
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	req.Header.Set("Accept", "application/json")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if auth {
		c.mu.RLock()
		tok := c.token
		c.mu.RUnlock()
		if tok == "" {
			return &StatusError{Status: http.StatusUnauthorized, Err: wire.Error{Code: wire.CodeUnauthorized, Message: "not enrolled"}}
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &NetError{Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return &NetError{Err: fmt.Errorf("read answer: %w", err)}
	}
	if len(data) > maxResponseBytes {
		return fmt.Errorf("answer over %d bytes", maxResponseBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		se := &StatusError{Status: resp.StatusCode}
		var eb wire.ErrorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error.Code != "" {
			se.Err = eb.Error
		} else {
			se.Err = wire.Error{Message: strings.TrimSpace(string(data[:min(len(data), 200)]))}
		}
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			if s, err := strconv.Atoi(ra); err == nil && s > 0 {
				se.RetryAfter = time.Duration(s) * time.Second
			}
		}
		return se
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode answer: %w", err)
		}
	}
	return nil
}

// StatusError is an answer of the server other than success.
type StatusError struct {
	Status     int
	Err        wire.Error
	RetryAfter time.Duration // from a Retry-After header, when given
}

func (e *StatusError) Error() string {
	if e.Err.Code != "" {
		return fmt.Sprintf("server answered %d: %s", e.Status, e.Err.Error())
	}
	if e.Err.Message != "" {
		return fmt.Sprintf("server answered %d: %s", e.Status, e.Err.Message)
	}
	return fmt.Sprintf("server answered %d", e.Status)
}

// NetError is a failure to reach the server or to read its answer.
type NetError struct{ Err error }

func (e *NetError) Error() string { return e.Err.Error() }
func (e *NetError) Unwrap() error { return e.Err }

// Retryable reports whether sending the same request later can succeed: the server could not
// be reached, was overloaded or failed (408, 429, 5xx). A refusal of the request itself (400,
// 403, 404, 413) is not.
func Retryable(err error) bool {
	var ne *NetError
	if errors.As(err, &ne) {
		return true
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status == http.StatusRequestTimeout || se.Status == http.StatusTooManyRequests || se.Status >= 500
	}
	return false
}

// IsUnauthorized reports whether the server refused the agent's token (401): the agent must
// enroll again.
func IsUnauthorized(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == http.StatusUnauthorized
}

// IsTooLarge reports whether the server refused the request for its size (413).
func IsTooLarge(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == http.StatusRequestEntityTooLarge
}

// RetryAfter returns the wait a server asked for with Retry-After, or 0.
func RetryAfter(err error) time.Duration {
	var se *StatusError
	if errors.As(err, &se) {
		return se.RetryAfter
	}
	return 0
}

// URL is the server's address of path (a wire.Path... constant, plus a rest).
func (c *Client) URL(path string) string { return c.base.String() + path }

// Downloader returns an HTTP client for large downloads from this server (the release
// repository under wire.PathUpdates): the same pinned TLS, the agent token as bearer token and
// the user agent on every request, and no overall timeout but timeout (a binary takes longer
// than an API call).
func (c *Client) Downloader(timeout time.Duration) *http.Client {
	return &http.Client{Transport: authTransport{c: c}, Timeout: timeout}
}

// authTransport adds the agent's credentials to each request it sends to the server.
type authTransport struct{ c *Client }

func (t authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != t.c.base.Host || req.URL.Scheme != t.c.base.Scheme {
		return nil, fmt.Errorf("refusing to send the agent token to %s", req.URL.Host)
	}
	r := req.Clone(req.Context())
	t.c.mu.RLock()
	tok := t.c.token
	t.c.mu.RUnlock()
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	if t.c.userAgent != "" {
		r.Header.Set("User-Agent", t.c.userAgent)
	}
	return t.c.http.Transport.RoundTrip(r)
}
