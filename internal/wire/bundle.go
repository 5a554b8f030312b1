package wire

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RuleFile is one Sigma rule file of a policy bundle: its name (unique in the bundle, used in
// error messages as file names are) and its YAML text.
type RuleFile struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}

// Bundle is a policy bundle: the server's custom rules and the built-in rules it turns off,
// under one version and one ed25519 signature. Agents apply it on top of the built-in pack
// only after Verify succeeds with the key they received at enrollment.
type Bundle struct {
	Version  int64      `json:"version"`
	Created  time.Time  `json:"created"`
	Rules    []RuleFile `json:"rules"`
	Disabled []string   `json:"disabled,omitempty"` // ids of built-in rules and correlations turned off
	// Signature is the standard-base64 ed25519 signature of Canonical().
	Signature string `json:"signature"`
}

const bundleMagic = "vigil-policy-bundle/v1\n"

// Canonical is the byte string the signature covers: every field but Signature, in a fixed
// order, each length-prefixed so that no two different bundles encode alike. Rules are taken in
// name order and Disabled in sorted order, so the order they travel in does not matter.
func (b *Bundle) Canonical() []byte {
	var sb strings.Builder
	sb.WriteString(bundleMagic)
	field := func(s string) {
		sb.WriteString(strconv.Itoa(len(s)))
		sb.WriteByte(':')
		sb.WriteString(s)
		sb.WriteByte(',')
	}
	field(strconv.FormatInt(b.Version, 10))
	field(b.Created.UTC().Format(time.RFC3339Nano))
	rules := slices.Clone(b.Rules)
	slices.SortFunc(rules, func(x, y RuleFile) int { return strings.Compare(x.Name, y.Name) })
	field(strconv.Itoa(len(rules)))
	for _, r := range rules {
		field(r.Name)
		field(r.Content)
	}
	disabled := slices.Clone(b.Disabled)
	slices.Sort(disabled)
	field(strconv.Itoa(len(disabled)))
	for _, d := range disabled {
		field(d)
	}
	return []byte(sb.String())
}

// Validate checks what a signature cannot: a positive version and unique, non-empty rule names.
func (b *Bundle) Validate() error {
	if b.Version <= 0 {
		return fmt.Errorf("policy bundle: version %d: want a positive version", b.Version)
	}
	seen := make(map[string]bool, len(b.Rules))
	for i, r := range b.Rules {
		if r.Name == "" {
			return fmt.Errorf("policy bundle: rules[%d]: empty name", i)
		}
		if seen[r.Name] {
			return fmt.Errorf("policy bundle: rules[%d]: name %q appears twice", i, r.Name)
		}
		seen[r.Name] = true
	}
	return nil
}

// Sign validates the bundle and sets its Signature with key.
func (b *Bundle) Sign(key ed25519.PrivateKey) error {
	if err := b.Validate(); err != nil {
		return err
	}
	if len(key) != ed25519.PrivateKeySize {
		return fmt.Errorf("policy bundle: signing key has %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	b.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, b.Canonical()))
	return nil
}

// ErrBadSignature is returned by Verify when the signature does not match.
var ErrBadSignature = errors.New("policy bundle: signature does not verify")

// Verify checks the bundle and its signature against key.
func (b *Bundle) Verify(key ed25519.PublicKey) error {
	if len(key) != ed25519.PublicKeySize {
		return fmt.Errorf("policy bundle: public key has %d bytes, want %d", len(key), ed25519.PublicKeySize)
	}
	if err := b.Validate(); err != nil {
		return err
	}
	sig, err := base64.StdEncoding.DecodeString(b.Signature)
	if err != nil {
		return fmt.Errorf("policy bundle: signature is not base64: %w", err)
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(key, b.Canonical(), sig) {
		return ErrBadSignature
	}
	return nil
}

// EncodeKey encodes a public key as EnrollResponse.PolicyKey carries it.
func EncodeKey(key ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(key) }

// ParseKey decodes EnrollResponse.PolicyKey.
func ParseKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("policy key: not base64: %w", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("policy key: %d bytes, want %d", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}
