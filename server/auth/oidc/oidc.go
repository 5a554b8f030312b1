// Package oidc signs users in to the web UI through an OpenID Connect provider (Okta, Entra
// ID, Google Workspace, Keycloak, Dex...): the authorization-code flow with PKCE, state and
// nonce, the ID token verified by github.com/coreos/go-oidc against the provider's published
// keys, and the user's role derived from the groups the provider lists. It returns who signed
// in; sessions are the caller's business.
package oidc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Config is the relying party's configuration.
type Config struct {
	// Issuer is the provider's issuer URL (discovery at Issuer/.well-known/openid-configuration).
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is this server's callback: https://vigil.example.com/auth/oidc/callback.
	RedirectURL string
	// Name is shown on the login button ("Sign in with Name"); default "single sign-on".
	Name string
	// UsernameClaim names the claim used as the Vigil user name (default preferred_username,
	// then email, then sub).
	UsernameClaim string
	// GroupsClaim names the claim listing the user's groups (default groups).
	GroupsClaim string
	// AdminGroups and AnalystGroups map provider groups onto roles; anyone else gets
	// DefaultRole (default viewer).
	AdminGroups, AnalystGroups []string
	DefaultRole                string
	// HTTPClient talks to the provider (default http.DefaultClient).
	HTTPClient *http.Client
}

// Identity is a user the provider vouched for.
type Identity struct {
	Subject  string
	Username string
	Email    string
	Groups   []string
	// Role is admin, analyst or viewer, from the groups.
	Role string
}

// RP is a relying party of one provider.
type RP struct {
	cfg      Config
	oauth    oauth2.Config
	verifier *gooidc.IDTokenVerifier
}

// CookieName holds the pending sign-in's state, nonce and PKCE verifier for ten minutes.
const CookieName = "vigil_oidc"

const flowTTL = 10 * time.Minute

// New discovers the provider and returns the relying party.
func New(ctx context.Context, cfg Config) (*RP, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.RedirectURL == "" {
		return nil, errors.New("oidc: issuer, client id and redirect URL are required")
	}
	if cfg.DefaultRole == "" {
		cfg.DefaultRole = "viewer"
	}
	if cfg.UsernameClaim == "" {
		cfg.UsernameClaim = "preferred_username"
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if cfg.Name == "" {
		cfg.Name = "single sign-on"
	}
	if cfg.HTTPClient != nil {
		ctx = gooidc.ClientContext(ctx, cfg.HTTPClient)
	}
	p, err := gooidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc: discovery at %s: %w", cfg.Issuer, err)
	}
	return &RP{
		cfg: cfg,
		oauth: oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: cfg.RedirectURL,
			Endpoint: p.Endpoint(), Scopes: []string{gooidc.ScopeOpenID, "profile", "email"}},
		verifier: p.Verifier(&gooidc.Config{ClientID: cfg.ClientID}),
	}, nil
}

// Name is the provider's display name.
func (rp *RP) Name() string { return rp.cfg.Name }

// Config returns the configuration (for the settings page; never show ClientSecret).
func (rp *RP) Config() Config { return rp.cfg }

type flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"next"`
}

// Start sends the browser to the provider, remembering the flow in a cookie. next is where to
// go after signing in (a local path; anything else means /).
func (rp *RP) Start(w http.ResponseWriter, r *http.Request, next string) {
	f := flow{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), Next: LocalPath(next)}
	b, _ := json.Marshal(f)
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: base64.RawURLEncoding.EncodeToString(b), Path: "/auth/oidc/",
		MaxAge: int(flowTTL.Seconds()), HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	url := rp.oauth.AuthCodeURL(f.State, gooidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier))
	http.Redirect(w, r, url, http.StatusFound)
}

// Finish completes the sign-in at the callback: it checks the state against the cookie,
// exchanges the code (with the PKCE verifier), verifies the ID token and its nonce, and
// returns who signed in and where to go next.
func (rp *RP) Finish(w http.ResponseWriter, r *http.Request) (Identity, string, error) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return Identity{}, "", errors.New("oidc: no sign-in in progress (cookie missing or expired)")
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/auth/oidc/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	var f flow
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || json.Unmarshal(raw, &f) != nil || f.State == "" {
		return Identity{}, "", errors.New("oidc: malformed sign-in cookie")
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		return Identity{}, "", fmt.Errorf("oidc: the provider refused: %s %s", e, q.Get("error_description"))
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		return Identity{}, "", errors.New("oidc: state does not match this browser's sign-in")
	}
	ctx := r.Context()
	if rp.cfg.HTTPClient != nil {
		ctx = gooidc.ClientContext(ctx, rp.cfg.HTTPClient)
	}
	tok, err := rp.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return Identity{}, "", fmt.Errorf("oidc: code exchange: %w", err)
	}
	rawID, ok := tok.Extra("id_token").(string)
	if !ok || rawID == "" {
		return Identity{}, "", errors.New("oidc: the token response has no id_token")
	}
	idt, err := rp.verifier.Verify(ctx, rawID)
	if err != nil {
		return Identity{}, "", fmt.Errorf("oidc: ID token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		return Identity{}, "", errors.New("oidc: ID token nonce does not match")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return Identity{}, "", fmt.Errorf("oidc: ID token claims: %w", err)
	}
	id := rp.identity(idt.Subject, claims)
	if id.Username == "" {
		return Identity{}, "", errors.New("oidc: the ID token names no user")
	}
	return id, f.Next, nil
}

func (rp *RP) identity(sub string, claims map[string]any) Identity {
	str := func(k string) string { s, _ := claims[k].(string); return s }
	id := Identity{Subject: sub, Email: str("email")}
	for _, k := range []string{rp.cfg.UsernameClaim, "email", "sub"} {
		if id.Username = str(k); id.Username != "" {
			break
		}
	}
	switch g := claims[rp.cfg.GroupsClaim].(type) {
	case []any:
		for _, v := range g {
			if s, ok := v.(string); ok {
				id.Groups = append(id.Groups, s)
			}
		}
	case string:
		id.Groups = strings.Fields(strings.ReplaceAll(g, ",", " "))
	}
	id.Role = rp.cfg.DefaultRole
	inAny := func(groups []string) bool {
		return slices.ContainsFunc(id.Groups, func(g string) bool { return slices.Contains(groups, g) })
	}
	switch {
	case inAny(rp.cfg.AdminGroups):
		id.Role = "admin"
	case inAny(rp.cfg.AnalystGroups):
		id.Role = "analyst"
	}
	return id
}

// LocalPath returns next when it is a path on this server, "/" otherwise, so a crafted link
// cannot send a user elsewhere after signing in. No control character passes: browsers drop
// tabs and line breaks from a URL, so "/\t/evil.example" would take them to //evil.example.
func LocalPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, `/\`) ||
		strings.ContainsFunc(next, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "/"
	}
	return next
}

func random() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic("oidc: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
