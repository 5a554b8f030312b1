package store

import (
	"context"
	"encoding/json"
	"time"
)

// Setting keys.
const (
	SettingDestinations   = "alert_destinations" // []forward.Config
	SettingOfficeNetworks = "office_networks"    // OfficeNetworks
	SettingRetention      = "retention"          // map table -> days
)

// Setting is one server-wide setting an admin edits in the UI, as JSON.
type Setting struct {
	Key       string          `json:"key"`
	Value     json.RawMessage `json:"value"`
	UpdatedAt time.Time       `json:"updated_at"`
	UpdatedBy string          `json:"updated_by"`
}

// Settings holds the settings; every replica reads them from the store.
type Settings interface {
	// Setting returns one setting (ErrNotFound when never set).
	Setting(ctx context.Context, key string) (Setting, error)
	PutSetting(ctx context.Context, s Setting) error
}

// OfficeNetworks are networks where many machines share one egress address, gateway or
// access point by design: the laptop-farm rules leave hosts behind them out.
type OfficeNetworks struct {
	CIDRs  []string `json:"cidrs,omitempty"`
	MACs   []string `json:"macs,omitempty"`
	BSSIDs []string `json:"bssids,omitempty"`
}
