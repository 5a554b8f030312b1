package store

import (
	"context"
	"encoding/json"
	"time"
)

// Host is an enrolled machine.
type Host struct {
	ID        string `json:"id"`
	MachineID string `json:"machine_id"`
	Hostname  string `json:"hostname"`
	OS        string `json:"os"`
	OSVersion string `json:"os_version,omitempty"`
	Arch      string `json:"arch,omitempty"`
	// AgentVersion is the version the agent last reported (at enrollment, in health reports).
	AgentVersion string    `json:"agent_version,omitempty"`
	EnrolledAt   time.Time `json:"enrolled_at"`
	LastSeen     time.Time `json:"last_seen"`
	// EgressIP is the address the server last saw the agent's requests come from.
	EgressIP string `json:"egress_ip,omitempty"`
	// Health is the agent's last health report (wire.Health as JSON), or null.
	Health json.RawMessage `json:"health,omitempty"`
	// EnrollSecretID names the enroll secret the host last enrolled with.
	EnrollSecretID string `json:"enroll_secret_id,omitempty"`
}

// Enrollment is what an enrollment writes: the host's facts and its new token's hash.
type Enrollment struct {
	MachineID, Hostname, OS, OSVersion, Arch, AgentVersion string
	TokenHash                                              string
	EnrollSecretID                                         string
	EgressIP                                               string
	Time                                                   time.Time
}

// AgentIdentity is what an agent token resolves to.
type AgentIdentity struct {
	HostID   string
	Hostname string
	// EgressIP is the host's egress address as last stored.
	EgressIP string
}

// MaxTokenLookup bounds the hashes one AgentsByTokenHashes call takes.
const MaxTokenLookup = 500

// Seen is one host's coalesced activity: the newest time it was heard from, from where, and
// its newest health report (nil: unchanged).
type Seen struct {
	HostID       string
	Time         time.Time
	EgressIP     string
	Health       json.RawMessage
	AgentVersion string
}

// HostFilter selects hosts. Empty fields select everything.
type HostFilter struct {
	// Query matches a substring of the hostname or the machine id, case-insensitively.
	Query string
	OS    string
	// SeenAfter / SeenBefore bound LastSeen (online and offline hosts, to a caller that knows
	// the check-in interval).
	SeenAfter, SeenBefore time.Time
	Page
}

// Hosts is the host registry.
type Hosts interface {
	// Enroll creates the host of e.MachineID, or updates it (facts, token) when that machine
	// enrolled before: created says which.
	Enroll(ctx context.Context, e Enrollment) (h Host, created bool, err error)
	// AgentByTokenHash resolves an agent token's hash (ErrNotFound when no host has it).
	AgentByTokenHash(ctx context.Context, tokenHash string) (AgentIdentity, error)
	// AgentsByTokenHashes resolves many token hashes at once (at most MaxTokenLookup): the
	// hashes no host has are absent from the map.
	AgentsByTokenHashes(ctx context.Context, tokenHashes []string) (map[string]AgentIdentity, error)
	// Host returns one host.
	Host(ctx context.Context, id string) (Host, error)
	// ListHosts returns hosts by hostname then id, and the cursor of the next page ("" at the end).
	ListHosts(ctx context.Context, f HostFilter) ([]Host, string, error)
	// CountHosts counts the hosts f selects (paging ignored).
	CountHosts(ctx context.Context, f HostFilter) (int, error)
	// MarkSeen records activity of many hosts at once; LastSeen only moves forward.
	MarkSeen(ctx context.Context, seen []Seen) error
}
