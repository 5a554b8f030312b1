package forward_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The receivers below are real servers on loopback that the tests start, stop and start again
// on the same address.

type received struct {
	Header http.Header
	Path   string
	Body   string
}

// httpReceiver records every request it answers 200 to.
type httpReceiver struct {
	t    *testing.T
	addr string
	mu   sync.Mutex
	got  []received
	srv  *http.Server
}

// newHTTPReceiver reserves a loopback address; the receiver is down until start.
func newHTTPReceiver(t *testing.T) *httpReceiver {
	return &httpReceiver{t: t, addr: reserveAddr(t)}
}

func reserveAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func (r *httpReceiver) URL() string { return "http://" + r.addr }

func (r *httpReceiver) start() {
	r.t.Helper()
	ln := listenRetry(r.t, "tcp", r.addr)
	r.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{Header: req.Header.Clone(), Path: req.URL.Path, Body: string(b)})
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"text":"Success","code":0}`))
	})}
	go func() { _ = r.srv.Serve(ln) }()
	r.t.Cleanup(func() { r.srv.Close() })
}

func (r *httpReceiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// findingIDs returns the finding ids of the requests, from webhook and HEC bodies alike.
func (r *httpReceiver) findingIDs() []string {
	var out []string
	for _, req := range r.requests() {
		var body struct {
			ID    string `json:"id"`
			Event *struct {
				ID string `json:"id"`
			} `json:"event"`
		}
		if err := json.Unmarshal([]byte(req.Body), &body); err != nil {
			r.t.Errorf("request body %q: %v", req.Body, err)
			continue
		}
		if body.Event != nil {
			body.ID = body.Event.ID
		}
		out = append(out, body.ID)
	}
	return out
}

// listenRetry listens on addr, retrying while the port is still in TIME_WAIT or in use.
func listenRetry(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	var err error
	for range 100 {
		var ln net.Listener
		if ln, err = net.Listen(network, addr); err == nil {
			return ln
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("listen %s: %v", addr, err)
	return nil
}

// streamReceiver is a syslog receiver over TCP or TLS reading RFC 6587 octet-counted frames.
type streamReceiver struct {
	t     *testing.T
	addr  string
	tls   *tls.Config
	mu    sync.Mutex
	msgs  []string
	ln    net.Listener
	conns []net.Conn
}

func newStreamReceiver(t *testing.T, tc *tls.Config) *streamReceiver {
	return &streamReceiver{t: t, addr: reserveAddr(t), tls: tc}
}

func (s *streamReceiver) start() {
	s.t.Helper()
	ln := listenRetry(s.t, "tcp", s.addr)
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	s.ln = ln
	s.t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			go s.read(c)
		}
	}()
}

func (s *streamReceiver) read(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		lenStr, err := br.ReadString(' ')
		if err != nil {
			return
		}
		n, err := strconv.Atoi(strings.TrimSpace(lenStr))
		if err != nil {
			s.t.Errorf("bad frame length %q", lenStr)
			return
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(br, buf); err != nil {
			return
		}
		s.mu.Lock()
		s.msgs = append(s.msgs, string(buf))
		s.mu.Unlock()
	}
}

// stop closes the listener and every connection, as a receiver that goes down does.
func (s *streamReceiver) stop() {
	s.ln.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

func (s *streamReceiver) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

var sdID = regexp.MustCompile(`\[vigil@32473 id="([^"]*)"`)

// findingIDs returns the finding ids of the messages received.
func (s *streamReceiver) findingIDs() []string {
	var out []string
	for _, m := range s.messages() {
		if sm := sdID.FindStringSubmatch(m); sm != nil {
			out = append(out, sm[1])
		}
	}
	return out
}

// udpReceiver is a syslog receiver over UDP.
type udpReceiver struct {
	conn net.PacketConn
	mu   sync.Mutex
	msgs []string
}

func newUDPReceiver(t *testing.T) *udpReceiver {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	u := &udpReceiver{conn: pc}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			u.mu.Lock()
			u.msgs = append(u.msgs, string(buf[:n]))
			u.mu.Unlock()
		}
	}()
	return u
}

func (u *udpReceiver) messages() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.msgs...)
}

// testTLS makes a self-signed certificate for 127.0.0.1 and localhost, returning the server's
// configuration and a CA file trusting it.
func testTLS(t *testing.T) (*tls.Config, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "vigil test receiver"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, caFile
}

// eventually polls cond for up to 30 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
