// Package auth holds the server's credentials logic: roles (viewer < analyst < admin), random
// bearer tokens stored only as their SHA-256 hash (agent tokens, API tokens, enroll secrets),
// argon2id password hashes, and a small time-bounded cache that keeps token checks off the
// database on the hot path.
package auth
