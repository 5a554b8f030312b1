package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Webhook is an HTTP receiver of webhook alerts on loopback, recording each JSON body.
type Webhook struct {
	URL string

	mu     sync.Mutex
	bodies []map[string]any
	at     []time.Time
}

// StartWebhook starts the receiver, stopped when the test ends.
func StartWebhook(t testing.TB) *Webhook {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &Webhook{URL: "http://" + ln.Addr().String() + "/alerts"}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		w.mu.Lock()
		w.bodies = append(w.bodies, body)
		w.at = append(w.at, time.Now())
		w.mu.Unlock()
		rw.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return w
}

// Received returns the alert whose "id" is id and when it arrived (nil when it has not).
func (w *Webhook) Received(id string) (map[string]any, time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, b := range w.bodies {
		if b["id"] == id {
			return b, w.at[i]
		}
	}
	return nil, time.Time{}
}

// Count returns how many alerts whose "id" is id arrived.
func (w *Webhook) Count(id string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, b := range w.bodies {
		if b["id"] == id {
			n++
		}
	}
	return n
}

// Syslog is an RFC 5424 receiver over TCP on loopback (octet-counting framing, RFC 6587),
// recording each message.
type Syslog struct {
	Addr string

	mu   sync.Mutex
	msgs []string
	at   []time.Time
}

// StartSyslog starts the receiver, stopped when the test ends.
func StartSyslog(t testing.TB) *Syslog {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Syslog{Addr: ln.Addr().String()}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.read(c)
		}
	}()
	return s
}

func (s *Syslog) read(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		n, err := r.ReadString(' ')
		if err != nil {
			return
		}
		size, err := strconv.Atoi(strings.TrimSpace(n))
		if err != nil || size <= 0 || size > 1<<20 {
			return
		}
		msg := make([]byte, size)
		if _, err := io.ReadFull(r, msg); err != nil {
			return
		}
		s.mu.Lock()
		s.msgs = append(s.msgs, string(msg))
		s.at = append(s.at, time.Now())
		s.mu.Unlock()
	}
}

// Count returns how many messages name the finding id.
func (s *Syslog) Count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	needle := fmt.Sprintf(`id="%s"`, id)
	n := 0
	for _, m := range s.msgs {
		if strings.Contains(m, needle) {
			n++
		}
	}
	return n
}

// Received returns the first message that names the finding id (id="ID" in its structured
// data), and when it arrived ("" when none has).
func (s *Syslog) Received(id string) (string, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	needle := fmt.Sprintf(`id="%s"`, id)
	for i, m := range s.msgs {
		if strings.Contains(m, needle) {
			return m, s.at[i]
		}
	}
	return "", time.Time{}
}
