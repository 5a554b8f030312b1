package tlspin

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/server/pki"
)

func TestPin(t *testing.T) {
	dir := t.TempDir()
	ca, _, err := pki.LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.ServerCertificate(dir, []string{"127.0.0.1", "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()
	get := func(pin, name string) error {
		tc, err := Config(pin, name)
		if err != nil {
			return err
		}
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
		res, err := c.Get(srv.URL)
		if err == nil {
			res.Body.Close()
		}
		return err
	}
	if err := get(ca.Fingerprint(), "127.0.0.1"); err != nil {
		t.Fatalf("right pin: %v", err)
	}
	other := "sha256:" + strings.Repeat("ab", 32)
	if err := get(other, "127.0.0.1"); err == nil || !strings.Contains(err.Error(), "pin") {
		t.Fatalf("wrong pin: %v", err)
	}
	if err := get(ca.Fingerprint(), "vigil.example.com"); err == nil {
		t.Fatal("wrong host name accepted")
	}
	// openssl's form: upper case, colons between bytes.
	colons := strings.ToUpper(strings.Join(regexp.MustCompile("..").FindAllString(strings.Repeat("ab", 32), -1), ":"))
	if b, err := Parse("sha256:" + colons); err != nil || len(b) != 32 || b[0] != 0xab {
		t.Errorf("colon form: %v", err)
	}
	for _, bad := range []string{"", "sha1:00", "sha256:zz", "sha256:" + strings.Repeat("a", 63)} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
