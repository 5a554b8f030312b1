package transport

import (
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/wire"
)

// testCA is a CA and a server certificate it signed for 127.0.0.1.
type testCA struct {
	ca     *x509.Certificate
	caPEM  []byte
	server tls.Certificate
}

func newTestCA(t *testing.T, ips ...net.IP) *testCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "server"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: ips, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{
		ca:     ca,
		caPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		server: tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: key},
	}
}

func tlsServer(t *testing.T, ca *testCA, h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.server}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func okHandler(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(wire.CheckinResponse{Directives: wire.Directives{CheckinIntervalSeconds: 7, PolicyVersion: 3}})
	})
}

func TestTLSPin(t *testing.T) {
	ca := newTestCA(t, net.ParseIP("127.0.0.1"))
	srv := tlsServer(t, ca, okHandler(t))
	ctx := context.Background()
	checkin := func(cfg Config) error {
		cfg.ServerURL = srv.URL
		c, err := New(cfg)
		if err != nil {
			return err
		}
		c.SetToken("tok")
		_, err = c.Checkin(ctx, &wire.CheckinRequest{})
		return err
	}
	if err := checkin(Config{CAPin: Fingerprint(ca.ca)}); err != nil {
		t.Fatalf("right pin: %v", err)
	}
	// openssl's colon form, upper case.
	colons := strings.ToUpper(strings.TrimPrefix(Fingerprint(ca.ca), "sha256:"))
	var b strings.Builder
	for i := 0; i < len(colons); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(colons[i : i+2])
	}
	if err := checkin(Config{CAPin: "sha256:" + b.String()}); err != nil {
		t.Fatalf("colon pin: %v", err)
	}
	other := newTestCA(t, net.ParseIP("127.0.0.1"))
	err := checkin(Config{CAPin: Fingerprint(other.ca)})
	if err == nil || !strings.Contains(err.Error(), "CA pin") || !Retryable(err) {
		t.Fatalf("wrong pin: %v", err)
	}
	// No pin: the system's roots do not know this CA.
	if err := checkin(Config{}); err == nil {
		t.Fatal("an unknown CA was trusted without a pin")
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkin(Config{CAFile: caFile}); err != nil {
		t.Fatalf("CA file: %v", err)
	}
	otherFile := filepath.Join(t.TempDir(), "other.pem")
	_ = os.WriteFile(otherFile, other.caPEM, 0o600)
	if err := checkin(Config{CAFile: otherFile}); err == nil {
		t.Fatal("a foreign CA file was accepted")
	}
}

// A pinned CA does not excuse a certificate issued for another name.
func TestTLSPinChecksName(t *testing.T) {
	ca := newTestCA(t, net.ParseIP("10.9.8.7"))
	srv := tlsServer(t, ca, okHandler(t))
	c, err := New(Config{ServerURL: srv.URL, CAPin: Fingerprint(ca.ca)})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken("tok")
	if _, err := c.Checkin(context.Background(), &wire.CheckinRequest{}); err == nil || !strings.Contains(err.Error(), "tls pin") {
		t.Fatalf("certificate for another address: %v", err)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, tc := range []struct{ cfg Config }{
		{Config{ServerURL: "http://10.0.0.1:8080"}},
		{Config{ServerURL: "http://vigil.example.com"}},
		{Config{ServerURL: "ftp://127.0.0.1"}},
		{Config{ServerURL: "https://x/api"}},
		{Config{ServerURL: "127.0.0.1:8080"}},
		{Config{ServerURL: "http://127.0.0.1:1", CAPin: "sha256:" + strings.Repeat("ab", 32)}},
		{Config{ServerURL: "https://x", CAPin: "md5:abcd"}},
		{Config{ServerURL: "https://x", CAPin: "sha256:abcd"}},
		{Config{ServerURL: "https://x", CAPin: "sha256:" + strings.Repeat("ab", 32), CAFile: "/etc/hostname"}},
		{Config{ServerURL: "https://x", CAFile: "/nonexistent/ca.pem"}},
	} {
		if _, err := New(tc.cfg); err == nil {
			t.Errorf("%+v accepted", tc.cfg)
		}
	}
	for _, u := range []string{"http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9", "https://vigil.example.com/"} {
		if _, err := New(Config{ServerURL: u}); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}

// A batch travels gzip-compressed with the bearer token, and the answer's directives come back.
func TestSendBatchGzip(t *testing.T) {
	var got wire.Batch
	var enc, auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != wire.PathBatch || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		enc, auth = r.Header.Get("Content-Encoding"), r.Header.Get("Authorization")
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		data, _ := io.ReadAll(zr)
		if err := json.Unmarshal(data, &got); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		_ = json.NewEncoder(w).Encode(wire.BatchResponse{Accepted: got.Items(), Directives: wire.Directives{CheckinIntervalSeconds: 30, PolicyVersion: 2}})
	}))
	defer srv.Close()
	c, err := New(Config{ServerURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken("secret-token")
	b := &wire.Batch{Health: &wire.Health{QueueDropped: 4}}
	for range 50 {
		b.Events = append(b.Events, *event.New(event.ProcessCreation, map[string]any{"Image": "/usr/bin/x11vnc", "CommandLine": "x11vnc -display :0"}))
	}
	resp, err := c.SendBatch(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if enc != "gzip" || auth != "Bearer secret-token" {
		t.Fatalf("encoding %q, auth %q", enc, auth)
	}
	if len(got.Events) != 50 || got.Health.QueueDropped != 4 || resp.Accepted != 50 || resp.PolicyVersion != 2 || resp.CheckinInterval() != 30*time.Second {
		t.Fatalf("got %d events, resp %+v", len(got.Events), resp)
	}
}

func TestErrorsClassified(t *testing.T) {
	status := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(wire.ErrorBody{Error: wire.Error{Code: "x", Message: "nope", Field: "events[3].time"}})
	}))
	c, _ := New(Config{ServerURL: srv.URL})
	c.SetToken("t")
	for _, tc := range []struct {
		status               int
		retry, unauth, large bool
	}{
		{400, false, false, false}, {401, false, true, false}, {403, false, false, false},
		{413, false, false, true}, {429, true, false, false}, {500, true, false, false}, {503, true, false, false},
	} {
		status = tc.status
		_, err := c.SendBatch(context.Background(), &wire.Batch{})
		if err == nil || Retryable(err) != tc.retry || IsUnauthorized(err) != tc.unauth || IsTooLarge(err) != tc.large {
			t.Errorf("%d: %v (retryable %v)", tc.status, err, Retryable(err))
		}
		if tc.status == 400 && !strings.Contains(err.Error(), "events[3].time") {
			t.Errorf("400 error does not name the field: %v", err)
		}
		if tc.status == 429 && RetryAfter(err) != 7*time.Second {
			t.Errorf("Retry-After: %v", RetryAfter(err))
		}
	}
	srv.Close()
	_, err := c.SendBatch(context.Background(), &wire.Batch{})
	if !Retryable(err) {
		t.Errorf("server gone: %v not retryable", err)
	}
	// Not enrolled: no request at all.
	c.SetToken("")
	if _, err := c.Checkin(context.Background(), &wire.CheckinRequest{}); !IsUnauthorized(err) {
		t.Errorf("without a token: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: 2 * time.Second}
	prevCeil := time.Duration(0)
	for i := range 12 {
		d := b.Next()
		ceil := min(100*time.Millisecond<<i, 2*time.Second)
		if d < ceil/2 || d > ceil {
			t.Fatalf("attempt %d: %v outside [%v, %v]", i, d, ceil/2, ceil)
		}
		if ceil < prevCeil {
			t.Fatal("ceiling shrank")
		}
		prevCeil = ceil
	}
	b.Reset()
	if d := b.Next(); d > 100*time.Millisecond {
		t.Fatalf("after reset: %v", d)
	}
	// Jitter: 50 draws at the same step are not all equal.
	seen := map[time.Duration]bool{}
	for range 50 {
		c := Backoff{Min: time.Second, Max: time.Minute, n: 5}
		seen[c.Next()] = true
	}
	if len(seen) < 10 {
		t.Fatalf("only %d distinct waits in 50 draws", len(seen))
	}
}
