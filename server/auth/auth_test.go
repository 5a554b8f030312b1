package auth

import (
	"strings"
	"testing"
	"time"
)

func TestRoles(t *testing.T) {
	if !RoleAdmin.Allows(RoleViewer) || !RoleAnalyst.Allows(RoleAnalyst) || RoleViewer.Allows(RoleAnalyst) || RoleAnalyst.Allows(RoleAdmin) {
		t.Fatal("role order wrong")
	}
	if Role("root").Allows(RoleViewer) || Role("").Allows(RoleViewer) {
		t.Fatal("unknown role allowed something")
	}
	if _, err := ParseRole("superuser"); err == nil {
		t.Fatal("unknown role parsed")
	}
	if r, err := ParseRole("analyst"); err != nil || r != RoleAnalyst {
		t.Fatal(r, err)
	}
}

func TestTokens(t *testing.T) {
	a, ha := NewToken(PrefixAgent)
	b, hb := NewToken(PrefixAgent)
	if a == b || ha == hb || !strings.HasPrefix(a, PrefixAgent) || HashToken(a) != ha || len(ha) != 64 {
		t.Fatalf("tokens: %q %q", a, ha)
	}
	for in, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "Basic abc": "", "Bearer ": "", "": ""} {
		if got := Bearer(in); got != want {
			t.Errorf("Bearer(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPassword(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Fatalf("hash %q", h)
	}
	if ok, err := VerifyPassword(h, "correct horse"); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, _ := VerifyPassword(h, "wrong"); ok {
		t.Fatal("wrong password verified")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=99999999,t=1,p=1$AA$AA", "$argon2id$v=19$m=64,t=1,p=1$!!$AA"} {
		if _, err := VerifyPassword(bad, "x"); err == nil {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
	if _, err := HashPassword(""); err == nil {
		t.Fatal("empty password hashed")
	}
	if p := NewPassword(); len(p) != 24 {
		t.Fatalf("password %q", p)
	}
}

func TestCache(t *testing.T) {
	now := time.Unix(0, 0)
	c := NewCache[string](time.Minute, 3)
	c.now = func() time.Time { return now }
	c.Put("a", "1")
	if v, ok := c.Get("a"); !ok || v != "1" {
		t.Fatal("miss after put")
	}
	now = now.Add(61 * time.Second)
	if _, ok := c.Get("a"); ok {
		t.Fatal("hit after ttl")
	}
	c.Put("b", "2")
	c.Put("c", "3")
	c.Put("d", "4") // sweeps expired a
	c.Put("e", "5") // full: dropped, then e
	if _, ok := c.Get("e"); !ok {
		t.Fatal("newest entry missing")
	}
	c.ForgetIf(func(v string) bool { return v == "5" })
	if _, ok := c.Get("e"); ok {
		t.Fatal("ForgetIf kept it")
	}
}

func TestOwnedCache(t *testing.T) {
	c := NewOwnedCache[string](time.Minute, 10, func(v string) string { return v[:1] })
	c.Put("k1", "a1")
	c.Put("k2", "a2")
	c.Put("k3", "b1")
	c.ForgetOwner("a")
	if _, ok := c.Get("k1"); ok {
		t.Fatal("k1 kept")
	}
	if _, ok := c.Get("k2"); ok {
		t.Fatal("k2 kept")
	}
	if v, ok := c.Get("k3"); !ok || v != "b1" {
		t.Fatal("k3 dropped")
	}
}

func TestCacheStale(t *testing.T) {
	now := time.Unix(0, 0)
	c := NewCache[string](time.Minute, 10)
	c.now = func() time.Time { return now }
	c.Put("k", "v")
	if v, fresh, ok := c.GetStale("k"); !ok || !fresh || v != "v" {
		t.Fatal("fresh entry")
	}
	now = now.Add(2 * time.Minute)
	if _, fresh, ok := c.GetStale("k"); !ok || fresh {
		t.Fatal("stale entry not served as stale")
	}
	now = now.Add(StaleFactor * time.Minute)
	if _, _, ok := c.GetStale("k"); ok {
		t.Fatal("entry served past StaleFactor TTLs")
	}
}
