package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/vigilhq/vigil/server/store"
)

// ErrUnauthorized: no credentials, or wrong ones. Callers answer 401 without saying which.
var ErrUnauthorized = errors.New("unauthorized")

// Principal is an authenticated user.
type Principal struct {
	UserID   string `json:"user_id"`
	Username string `json:"username"`
	Role     Role   `json:"role"`
	// TokenID is the API token used ("" for other means, such as a UI session).
	TokenID string `json:"token_id,omitempty"`
}

// Store is what the Authenticator needs of the store.
type Store interface {
	store.Hosts
	store.Users
	store.APITokens
	store.EnrollSecrets
}

// Authenticator checks agent tokens, API tokens, enroll secrets and passwords, caching the
// token checks for TTL.
type Authenticator struct {
	st     Store
	agents *Cache[store.AgentIdentity]
	users  *Cache[Principal]
	now    func() time.Time

	mu sync.Mutex
	// refreshing holds the stale agent tokens queued for, or in, a background lookup; queue
	// those waiting; running is set while a refresher goroutine works through them.
	refreshing map[string]bool
	queue      []string
	running    bool
}

// TokenCacheTTL bounds how long a revoked token may still work on another replica.
const TokenCacheTTL = 30 * time.Second

// refreshGather is how long stale agent tokens gather before one lookup resolves them all.
const refreshGather = 250 * time.Millisecond

// NewAuthenticator returns an Authenticator over st.
func NewAuthenticator(st Store) *Authenticator {
	return &Authenticator{st: st, agents: NewOwnedCache(TokenCacheTTL, 1<<20, func(id store.AgentIdentity) string { return id.HostID }),
		users: NewCache[Principal](TokenCacheTTL, 1<<16), now: time.Now, refreshing: map[string]bool{}}
}

// Agent resolves an agent token. A token checked within TokenCacheTTL is not looked up again;
// one checked earlier (up to StaleFactor TTLs) is accepted while a background lookup refreshes
// it, so a check-in never waits for the database once its agent is known. The stale tokens of a
// moment are looked up together, in one query per store.MaxTokenLookup of them (a fleet of
// 20,000 agents checking in every minute would otherwise cost hundreds of queries a second). A
// token revoked on another replica thus works at most until its next use after the TTL, and
// that lookup.
func (a *Authenticator) Agent(ctx context.Context, token string) (store.AgentIdentity, error) {
	if token == "" {
		return store.AgentIdentity{}, ErrUnauthorized
	}
	h := HashToken(token)
	if id, fresh, ok := a.agents.GetStale(h); ok {
		if !fresh {
			a.refreshAgent(h)
		}
		return id, nil
	}
	return a.lookupAgent(ctx, h)
}

func (a *Authenticator) lookupAgent(ctx context.Context, h string) (store.AgentIdentity, error) {
	id, err := a.st.AgentByTokenHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		a.agents.Forget(h)
		return id, ErrUnauthorized
	}
	if err != nil {
		return id, fmt.Errorf("agent token: %w", err)
	}
	a.agents.Put(h, id)
	return id, nil
}

// refreshAgent queues a stale token for the background lookup, once at a time per token.
func (a *Authenticator) refreshAgent(h string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.refreshing[h] {
		return
	}
	a.refreshing[h] = true
	a.queue = append(a.queue, h)
	if !a.running {
		a.running = true
		go a.refresh()
	}
}

// refresh looks the queued tokens up, store.MaxTokenLookup at a time, until the queue is empty.
func (a *Authenticator) refresh() {
	for {
		a.mu.Lock()
		full := len(a.queue) >= store.MaxTokenLookup
		a.mu.Unlock()
		if !full {
			time.Sleep(refreshGather)
		}
		a.mu.Lock()
		if len(a.queue) == 0 {
			a.running = false
			a.mu.Unlock()
			return
		}
		batch := slices.Clone(a.queue[:min(len(a.queue), store.MaxTokenLookup)])
		a.queue = slices.Delete(a.queue, 0, len(batch))
		a.mu.Unlock()
		a.lookupAgents(batch)
		a.mu.Lock()
		for _, h := range batch {
			delete(a.refreshing, h)
		}
		a.mu.Unlock()
	}
}

// lookupAgents refreshes the cache entries of hs: those no host has any more are dropped. When
// the store fails, the entries stay as they are (served stale until StaleFactor TTLs) and their
// next use queues them again.
func (a *Authenticator) lookupAgents(hs []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	found, err := a.st.AgentsByTokenHashes(ctx, hs)
	if err != nil {
		return
	}
	for _, h := range hs {
		if id, ok := found[h]; ok {
			a.agents.Put(h, id)
		} else {
			a.agents.Forget(h)
		}
	}
}

// ForgetAgent drops the cached tokens of a host (it re-enrolled with a new token).
func (a *Authenticator) ForgetAgent(hostID string) {
	a.agents.ForgetOwner(hostID)
}

// User resolves an API token.
func (a *Authenticator) User(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, ErrUnauthorized
	}
	h := HashToken(token)
	if p, ok := a.users.Get(h); ok {
		return p, nil
	}
	t, u, err := a.st.APITokenByHash(ctx, h, a.now())
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrUnauthorized
	}
	if err != nil {
		return Principal{}, fmt.Errorf("api token: %w", err)
	}
	if u.Disabled {
		return Principal{}, ErrUnauthorized
	}
	p := Principal{UserID: u.ID, Username: u.Username, Role: Role(u.Role), TokenID: t.ID}
	// An expiring token is not cached past its expiry.
	if t.ExpiresAt == nil || t.ExpiresAt.After(a.now().Add(TokenCacheTTL)) {
		a.users.Put(h, p)
	}
	return p, nil
}

// ForgetUserTokens drops cached API tokens (after a revocation or a user change).
func (a *Authenticator) ForgetUserTokens(match func(Principal) bool) { a.users.ForgetIf(match) }

// EnrollSecret resolves an enroll secret.
func (a *Authenticator) EnrollSecret(ctx context.Context, secret string) (store.EnrollSecret, error) {
	if secret == "" {
		return store.EnrollSecret{}, ErrUnauthorized
	}
	s, err := a.st.EnrollSecretByHash(ctx, HashToken(secret))
	if errors.Is(err, store.ErrNotFound) {
		return s, ErrUnauthorized
	}
	if err != nil {
		return s, fmt.Errorf("enroll secret: %w", err)
	}
	return s, nil
}

// Login checks a user's password.
func (a *Authenticator) Login(ctx context.Context, username, password string) (store.User, error) {
	u, err := a.st.UserByName(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		// Spend the same time as for a real user, so timing does not tell names apart.
		_, _ = VerifyPassword(dummyHash(), password)
		return u, ErrUnauthorized
	}
	if err != nil {
		return u, fmt.Errorf("login: %w", err)
	}
	if u.Disabled || u.PasswordHash == "" {
		_, _ = VerifyPassword(dummyHash(), password)
		return u, ErrUnauthorized
	}
	ok, err := VerifyPassword(u.PasswordHash, password)
	if err != nil {
		return u, fmt.Errorf("login: %w", err)
	}
	if !ok {
		return u, ErrUnauthorized
	}
	return u, nil
}

var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("vigil-dummy-password")
	return h
})
