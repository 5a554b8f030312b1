package wire

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func testBundle() *Bundle {
	return &Bundle{
		Version:  7,
		Created:  time.Date(2026, 12, 6, 10, 0, 0, 123, time.UTC),
		Rules:    []RuleFile{{Name: "b.yml", Content: "title: B\n"}, {Name: "a.yml", Content: "title: A\n"}},
		Disabled: []string{"rule-2", "rule-1"},
	}
}

func TestBundleSignVerify(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b := testBundle()
	if err := b.Sign(priv); err != nil {
		t.Fatal(err)
	}
	// Through JSON, in another order: still verifies.
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var got Bundle
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	got.Rules[0], got.Rules[1] = got.Rules[1], got.Rules[0]
	got.Disabled[0], got.Disabled[1] = got.Disabled[1], got.Disabled[0]
	if err := got.Verify(pub); err != nil {
		t.Fatalf("verify after round trip: %v", err)
	}
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	if err := got.Verify(otherPub); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("verify with another key: %v, want ErrBadSignature", err)
	}
}

func TestBundleTamperRefused(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	tamper := map[string]func(b *Bundle){
		"version":        func(b *Bundle) { b.Version++ },
		"created":        func(b *Bundle) { b.Created = b.Created.Add(time.Nanosecond) },
		"rule content":   func(b *Bundle) { b.Rules[0].Content += " " },
		"rule name":      func(b *Bundle) { b.Rules[0].Name = "c.yml" },
		"rule added":     func(b *Bundle) { b.Rules = append(b.Rules, RuleFile{Name: "z.yml"}) },
		"rule removed":   func(b *Bundle) { b.Rules = b.Rules[:1] },
		"disabled added": func(b *Bundle) { b.Disabled = append(b.Disabled, "rule-3") },
		"disabled gone":  func(b *Bundle) { b.Disabled = nil },
		"signature":      func(b *Bundle) { b.Signature = strings.Repeat("A", len(b.Signature)) },
		"boundary moved": func(b *Bundle) {
			// The same bytes split differently between name and content.
			b.Rules[0].Name, b.Rules[0].Content = b.Rules[0].Name+"t", b.Rules[0].Content[1:]
		},
	}
	for name, f := range tamper {
		t.Run(name, func(t *testing.T) {
			b := testBundle()
			if err := b.Sign(priv); err != nil {
				t.Fatal(err)
			}
			f(b)
			if err := b.Verify(pub); err == nil {
				t.Fatal("tampered bundle verified")
			}
		})
	}
}

func TestBundleValidate(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	for name, b := range map[string]*Bundle{
		"zero version":   {Version: 0},
		"empty name":     {Version: 1, Rules: []RuleFile{{Name: ""}}},
		"duplicate name": {Version: 1, Rules: []RuleFile{{Name: "a"}, {Name: "a"}}},
	} {
		if err := b.Sign(priv); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
	if err := (&Bundle{Version: 1}).Sign(priv[:10]); err == nil {
		t.Error("short key accepted")
	}
}

func TestCanonicalInjective(t *testing.T) {
	a := &Bundle{Version: 1, Rules: []RuleFile{{Name: "a", Content: "bc"}}}
	b := &Bundle{Version: 1, Rules: []RuleFile{{Name: "ab", Content: "c"}}}
	if bytes.Equal(a.Canonical(), b.Canonical()) {
		t.Fatal("different bundles encode alike")
	}
}

func TestParseKey(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	got, err := ParseKey(EncodeKey(pub))
	if err != nil || !got.Equal(pub) {
		t.Fatalf("round trip: %v", err)
	}
	for _, bad := range []string{"", "!!!", EncodeKey(pub[:31])} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}

func TestCheckinIntervalBounds(t *testing.T) {
	for secs, want := range map[int]time.Duration{
		0: DefaultCheckinInterval, -3: DefaultCheckinInterval, 1: MinCheckinInterval,
		30: 30 * time.Second, 1 << 20: MaxCheckinInterval,
	} {
		if got := (Directives{CheckinIntervalSeconds: secs}).CheckinInterval(); got != want {
			t.Errorf("%d s: got %v, want %v", secs, got, want)
		}
	}
}

func TestErrorEnvelope(t *testing.T) {
	raw, err := json.Marshal(ErrorBody{Error: Error{Code: CodeBadRequest, Message: "not a time", Field: "events[0].time"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"error":{"code":"bad_request","message":"not a time","field":"events[0].time"}}`
	if string(raw) != want {
		t.Fatalf("got %s, want %s", raw, want)
	}
}

func FuzzBundleVerify(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	b := testBundle()
	_ = b.Sign(priv)
	raw, _ := json.Marshal(b)
	f.Add(raw)
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b Bundle
		if json.Unmarshal(data, &b) != nil {
			return
		}
		_ = b.Verify(pub) // must not panic
	})
}
