package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/server/auth"
	"github.com/vigilhq/vigil/server/store"
)

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type tokenRequest struct {
	Name string `json:"name"`
	// ExpiresInHours makes the token expire (0: never).
	ExpiresInHours int `json:"expires_in_hours"`
}

type tokenCreated struct {
	store.APIToken
	// Token is the bearer token; it is not stored and not shown again.
	Token string `json:"token"`
}

type tokenList struct {
	Tokens []store.APIToken `json:"tokens"`
}

// LoginTokenTTL is how long a login's token lasts.
const LoginTokenTTL = 12 * time.Hour

func (a *API) issueToken(r *http.Request, userID, name string, ttl time.Duration) (tokenCreated, error) {
	value, hash := auth.NewToken(auth.PrefixAPI)
	t := store.APIToken{ID: event.NewID(), UserID: userID, Name: name, Hash: hash, CreatedAt: a.d.Now().UTC()}
	if ttl > 0 {
		exp := t.CreatedAt.Add(ttl)
		t.ExpiresAt = &exp
	}
	if err := a.d.Store.CreateAPIToken(r.Context(), t); err != nil {
		return tokenCreated{}, err
	}
	return tokenCreated{APIToken: t, Token: value}, nil
}

func (a *API) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if !a.decodeAdmin(w, r, &req) {
		return
	}
	a.mu.Lock()
	guard := a.loginGuard
	a.mu.Unlock()
	if guard != nil {
		if wait := guard.Blocked(r, req.Username); wait > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
			writeError(w, &wire.Error{Code: wire.CodeRateLimited,
				Message: fmt.Sprintf("too many failed sign-ins for this user name or address; try again in %d minutes", int(wait.Minutes())+1)})
			return
		}
	}
	u, err := a.d.Auth.Login(r.Context(), req.Username, req.Password)
	if err != nil {
		if errors.Is(err, auth.ErrUnauthorized) {
			a.log.Warn("login refused", "user", req.Username, "remote", a.clientIP(r).String())
			if guard != nil {
				guard.Failed(r, req.Username)
			}
		}
		a.refuse(w, r, err)
		return
	}
	if guard != nil {
		guard.Succeeded(r, req.Username)
	}
	t, err := a.issueToken(r, u.ID, "login", LoginTokenTTL)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	AuditActor(r, u.Username)
	Audit(r, t.ID, nil)
	writeJSON(w, http.StatusOK, t)
}

func (a *API) whoami(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalOf(r)
	writeJSON(w, http.StatusOK, p)
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalOf(r)
	list, err := a.d.Store.ListAPITokens(r.Context(), p.UserID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if list == nil {
		list = []store.APIToken{}
	}
	writeJSON(w, http.StatusOK, tokenList{Tokens: list})
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request) {
	var req tokenRequest
	if !a.decodeAdmin(w, r, &req) {
		return
	}
	if werr := checkLabel(req.Name); werr != nil {
		writeError(w, werr)
		return
	}
	if req.ExpiresInHours < 0 || req.ExpiresInHours > 24*3650 {
		writeError(w, &wire.Error{Code: wire.CodeBadRequest, Message: "want 0 (never) to 87600 hours", Field: "expires_in_hours"})
		return
	}
	p, _ := PrincipalOf(r)
	t, err := a.issueToken(r, p.UserID, req.Name, time.Duration(req.ExpiresInHours)*time.Hour)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	Audit(r, t.ID, map[string]string{"name": t.Name})
	writeJSON(w, http.StatusCreated, t)
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalOf(r)
	id := r.PathValue("id")
	owner := p.UserID
	if p.Role.Allows(auth.RoleAdmin) {
		owner = ""
	}
	list, err := a.d.Store.ListAPITokens(r.Context(), owner)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	found := false
	for _, t := range list {
		found = found || t.ID == id
	}
	if !found {
		writeError(w, &wire.Error{Code: wire.CodeNotFound, Message: "no such token of yours"})
		return
	}
	if err := a.d.Store.RevokeAPIToken(r.Context(), id, a.d.Now().UTC()); err != nil {
		a.fail(w, r, err)
		return
	}
	a.d.Auth.ForgetUserTokens(func(pr auth.Principal) bool { return pr.TokenID == id })
	Audit(r, id, nil)
	w.WriteHeader(http.StatusNoContent)
}
