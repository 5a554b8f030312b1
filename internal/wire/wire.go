package wire

import (
	"time"

	"github.com/vigilhq/vigil/internal/event"
)

// Version is the protocol version in the paths.
const Version = "v1"

// Paths of the agent API.
const (
	PathEnroll  = "/api/v1/agent/enroll"
	PathBatch   = "/api/v1/agent/batch"
	PathCheckin = "/api/v1/agent/checkin"
	PathPolicy  = "/api/v1/agent/policy"
	// PathUpdates serves the release repository (TUF metadata under metadata/, signed binaries
	// under targets/) to agents: GET PathUpdates/metadata/..., PathUpdates/targets/....
	PathUpdates = "/api/v1/agent/updates"
)

// Limits both sides honour. The agent sizes its batches under them; the server refuses what
// exceeds them (413 for sizes, 400 for counts).
const (
	// MaxBodyBytes caps a request body as sent (compressed or not).
	MaxBodyBytes = 8 << 20
	// MaxDecodedBytes caps a request body once gzip is undone: a larger one is a gzip bomb.
	MaxDecodedBytes = 64 << 20
	// MaxBatchItems caps events + findings + inventory snapshots in one batch.
	MaxBatchItems = 5000
	// MaxEvidence caps the evidence events one finding carries.
	MaxEvidence = 100
)

// Bounds of the check-in interval a server may set.
const (
	MinCheckinInterval     = 5 * time.Second
	DefaultCheckinInterval = 60 * time.Second
	MaxCheckinInterval     = time.Hour
)

// HostFacts describe the machine an agent runs on, as the agent sees it.
type HostFacts struct {
	// MachineID is the OS's stable machine identifier (/etc/machine-id, the macOS
	// IOPlatformUUID, the Windows MachineGuid). It makes re-enrollment find the same host.
	MachineID    string `json:"machine_id"`
	Hostname     string `json:"hostname"`
	OS           string `json:"os"` // Sigma product: linux, macos, windows
	OSVersion    string `json:"os_version,omitempty"`
	Arch         string `json:"arch,omitempty"`
	AgentVersion string `json:"agent_version,omitempty"`
}

// EnrollRequest is the body of POST PathEnroll.
type EnrollRequest struct {
	EnrollSecret string    `json:"enroll_secret"`
	Host         HostFacts `json:"host"`
}

// EnrollResponse answers a successful enrollment.
type EnrollResponse struct {
	AgentID string `json:"agent_id"`
	// Token is the agent's bearer token for every later call. The server keeps only its hash.
	Token string `json:"token"`
	// PolicyKey is the server's ed25519 policy-signing public key, standard base64.
	PolicyKey string `json:"policy_key"`
	Directives
}

// Directives ride on every successful answer of the agent API.
type Directives struct {
	// CheckinIntervalSeconds is how often the agent should check in.
	CheckinIntervalSeconds int `json:"checkin_interval_s"`
	// PolicyVersion is the current policy bundle's version (0: none published yet).
	PolicyVersion int64 `json:"policy_version"`
	// Upgrade offers this agent a version to move to (absent: none). The agent installs it only
	// when the release key it was installed with has signed it (installer/upgrade).
	Upgrade *UpgradeOffer `json:"upgrade,omitempty"`
}

// UpgradeOffer names the version an agent should move to. The binary and the signed metadata
// that vouch for it come from PathUpdates on the same server.
type UpgradeOffer struct {
	Version string `json:"version"`
}

// CheckinInterval returns the interval as a duration, bounded to what the protocol allows
// (DefaultCheckinInterval when unset).
func (d Directives) CheckinInterval() time.Duration {
	if d.CheckinIntervalSeconds <= 0 {
		return DefaultCheckinInterval
	}
	return min(max(time.Duration(d.CheckinIntervalSeconds)*time.Second, MinCheckinInterval), MaxCheckinInterval)
}

// Finding is a detection as the agent reports it: a rule match or a correlation firing, with
// the ids of its evidence events (the events themselves travel in the same or an earlier batch).
// Its JSON keys are those of policies.Finding, plus nothing the server must trust: the host is
// the token's.
type Finding struct {
	ID          string            `json:"id"`
	RuleID      string            `json:"rule_id"`
	RuleName    string            `json:"rule_name,omitempty"`
	Title       string            `json:"title"`
	Level       string            `json:"level"`
	Author      string            `json:"author,omitempty"`
	Tags        []string          `json:"tags,omitempty"`
	Time        time.Time         `json:"time"`
	EventIDs    []string          `json:"event_ids,omitempty"`
	Group       map[string]string `json:"group,omitempty"`
	Count       int               `json:"count,omitempty"`
	Value       *float64          `json:"value,omitempty"`
	Correlation string            `json:"correlation,omitempty"`
}

// Inventory kinds: each names the event category whose current state an Inventory carries.
const (
	InventoryHost     = event.HostInventory
	InventoryUSB      = event.USBDevice
	InventoryDisplay  = event.Display
	InventoryMedia    = event.RemovableMedia
	InventoryNeighbor = event.Neighbor
)

// Inventory is the whole current state of one kind on the host (every USB device attached,
// every display, the host settings as one item...). It replaces what the server held for that
// host and kind, unless the server already holds a newer one (by Time), so re-sending is
// harmless. The changes themselves travel as events (Action added/removed).
type Inventory struct {
	ID    string           `json:"id"`
	Kind  string           `json:"kind"`
	Time  time.Time        `json:"time"`
	Items []map[string]any `json:"items"`
}

// Health is the agent's view of itself, sent with batches and check-ins. Counters are totals
// since the agent's state was created, so a retried report never double-counts.
type Health struct {
	AgentVersion   string    `json:"agent_version,omitempty"`
	PolicyVersion  int64     `json:"policy_version"`       // the bundle in force (0: built-in only)
	QueueItems     int64     `json:"queue_items"`          // items waiting to be sent
	QueueBytes     int64     `json:"queue_bytes"`          // their size on disk
	QueueDropped   int64     `json:"queue_dropped"`        // items dropped because the queue was full (total)
	EventsDropped  int64     `json:"events_dropped"`       // events dropped before the queue (total)
	SelfLimited    int64     `json:"self_limited"`         // times the watchdog backed off (total)
	SelfLimitState string    `json:"self_limit,omitempty"` // "" or the reason it is backing off now
	CPUPercent     float64   `json:"cpu_percent"`          // over the last minute, of one core
	RSSBytes       int64     `json:"rss_bytes"`
	PolicyError    string    `json:"policy_error,omitempty"` // why the newest bundle was refused, if it was
	Upgrade        string    `json:"upgrade,omitempty"`      // the last upgrade event: staged, refused (why), rolled back, upgraded
	StartedAt      time.Time `json:"started_at,omitempty"`
}

// Batch is the body of POST PathBatch.
type Batch struct {
	Events    []event.Event `json:"events,omitempty"`
	Findings  []Finding     `json:"findings,omitempty"`
	Inventory []Inventory   `json:"inventory,omitempty"`
	Health    *Health       `json:"health,omitempty"`
}

// Items counts what a batch carries against MaxBatchItems.
func (b *Batch) Items() int { return len(b.Events) + len(b.Findings) + len(b.Inventory) }

// BatchResponse answers a committed batch.
type BatchResponse struct {
	// Accepted counts the items stored by this call; Duplicates those already stored before.
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Directives
}

// CheckinRequest is the body of POST PathCheckin.
type CheckinRequest struct {
	Health Health `json:"health"`
}

// CheckinResponse answers a check-in.
type CheckinResponse struct {
	Directives
}
