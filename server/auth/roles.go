package auth

import "fmt"

// Role is what a user may do. Each role includes the ones below it.
type Role string

// Roles, from least to most privileged.
const (
	RoleViewer  Role = "viewer"  // reads hosts, findings, rules, audit
	RoleAnalyst Role = "analyst" // also triages findings
	RoleAdmin   Role = "admin"   // also manages rules, enroll secrets, users, tokens
)

// Roles lists every role, least privileged first.
var Roles = []Role{RoleViewer, RoleAnalyst, RoleAdmin}

func (r Role) rank() int {
	for i, x := range Roles {
		if x == r {
			return i + 1
		}
	}
	return 0
}

// Allows reports whether r includes need. An unknown role allows nothing.
func (r Role) Allows(need Role) bool { return r.rank() > 0 && r.rank() >= need.rank() }

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if r.rank() == 0 {
		return "", fmt.Errorf("role %q: want viewer, analyst or admin", s)
	}
	return r, nil
}
