package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Token prefixes say what a leaked string is.
const (
	PrefixAgent  = "vga_" // an agent's bearer token
	PrefixAPI    = "vgt_" // a user's API token
	PrefixEnroll = "vge_" // an enroll secret
)

// NewToken returns a fresh random token (32 bytes, base64url) with the prefix, and its hash.
func NewToken(prefix string) (token, hash string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("auth: no randomness: " + err.Error()) // crypto/rand does not fail on supported systems
	}
	token = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token)
}

// HashToken is how tokens are stored and looked up: hex SHA-256. Tokens are 256-bit random
// strings, so a fast hash is enough (passwords use argon2id).
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Bearer extracts the token of an "Authorization: Bearer X" header value ("" when absent).
func Bearer(header string) string {
	const p = "bearer "
	if len(header) <= len(p) || !strings.EqualFold(header[:len(p)], p) {
		return ""
	}
	return strings.TrimSpace(header[len(p):])
}

// Equal compares two secrets in constant time.
func Equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
