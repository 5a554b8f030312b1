package oidc_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/server/auth/oidc"
	"github.com/vigilhq/vigil/server/auth/oidc/oidctest"
)

// rpServer is a relying party on loopback: /start begins a sign-in, /auth/oidc/callback ends it
// and records the identity.
type rpServer struct {
	*httptest.Server
	rp   *oidc.RP
	got  chan result
	next string
}

type result struct {
	id   oidc.Identity
	next string
	err  error
}

func newRP(t *testing.T, configure func(*oidc.Config)) (*rpServer, *oidctest.Provider) {
	t.Helper()
	s := &rpServer{got: make(chan result, 1), next: "/findings?level=high"}
	mux := http.NewServeMux()
	s.Server = httptest.NewTLSServer(mux) // the flow cookie is Secure
	provider := oidctest.New(t, s.URL+"/auth/oidc/callback")
	cfg := oidc.Config{Issuer: provider.URL, ClientID: provider.ClientID, ClientSecret: provider.ClientSecret,
		RedirectURL: provider.RedirectURL, AdminGroups: []string{"vigil-admins"}, AnalystGroups: []string{"secops"}}
	if configure != nil {
		configure(&cfg)
	}
	rp, err := oidc.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.rp = rp
	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) { rp.Start(w, r, s.next) })
	mux.HandleFunc("/auth/oidc/callback", func(w http.ResponseWriter, r *http.Request) {
		id, next, err := rp.Finish(w, r)
		s.got <- result{id, next, err}
	})
	t.Cleanup(s.Close)
	return s, provider
}

func (s *rpServer) signIn(t *testing.T) result {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := s.Client()
	c.Jar = jar
	resp, err := c.Get(s.URL + "/start")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return <-s.got
}

func TestSignIn(t *testing.T) {
	s, p := newRP(t, nil)
	p.SetUser(oidctest.User{Subject: "u-7", Username: "dana", Email: "dana@example.com", Groups: []string{"staff", "secops"}})
	r := s.signIn(t)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.id.Username != "dana" || r.id.Subject != "u-7" || r.id.Email != "dana@example.com" || r.id.Role != "analyst" ||
		!slices.Equal(r.id.Groups, []string{"staff", "secops"}) {
		t.Errorf("identity %+v", r.id)
	}
	if r.next != "/findings?level=high" {
		t.Errorf("next %q", r.next)
	}
	p.SetUser(oidctest.User{Subject: "u-8", Username: "root", Groups: []string{"vigil-admins", "secops"}})
	if r := s.signIn(t); r.err != nil || r.id.Role != "admin" {
		t.Errorf("admin group: %+v %v", r.id, r.err)
	}
	p.SetUser(oidctest.User{Subject: "u-9", Email: "eve@example.com"})
	if r := s.signIn(t); r.err != nil || r.id.Role != "viewer" || r.id.Username != "eve@example.com" {
		t.Errorf("no group, no username: %+v %v", r.id, r.err)
	}
}

func TestRefusals(t *testing.T) {
	s, p := newRP(t, nil)
	for name, tamper := range map[string]func(map[string]any){
		"wrong audience": func(c map[string]any) { c["aud"] = "another-client" },
		"wrong issuer":   func(c map[string]any) { c["iss"] = "https://evil.example" },
		"wrong nonce":    func(c map[string]any) { c["nonce"] = "replayed" },
		"expired":        func(c map[string]any) { c["exp"] = 1000 },
	} {
		p.Tamper = tamper
		if r := s.signIn(t); r.err == nil {
			t.Errorf("%s: accepted %+v", name, r.id)
		}
	}
	p.Tamper = nil
	// a callback without the browser's flow cookie, or with another state, is refused
	resp, err := s.Client().Get(s.URL + "/auth/oidc/callback?code=x&state=y")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if r := <-s.got; r.err == nil || !strings.Contains(r.err.Error(), "cookie") {
		t.Errorf("callback without cookie: %v", r.err)
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{"/findings?x=1": "/findings?x=1", "": "/", "https://evil.example": "/",
		"//evil.example/x": "/", `/\evil.example`: "/", "/a\r\nSet-Cookie: x": "/", "findings": "/",
		// browsers drop tabs and line breaks: these would be //evil.example and /\evil.example
		"/\t/evil.example": "/", "/\n/evil.example": "/", "/\t\\evil.example": "/", "/x\x00": "/", "/x\x7f": "/"} {
		if got := oidc.LocalPath(in); got != want {
			t.Errorf("LocalPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := oidc.New(context.Background(), oidc.Config{}); err == nil {
		t.Error("empty config accepted")
	}
	if _, err := oidc.New(context.Background(), oidc.Config{Issuer: "http://127.0.0.1:1", ClientID: "x", RedirectURL: "https://x/cb"}); err == nil {
		t.Error("unreachable issuer accepted")
	}
}
