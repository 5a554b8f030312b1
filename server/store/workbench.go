package store

import "github.com/vigilhq/vigil/server/forward"

// Workbench is what the analyst's workbench (the web UI, triage, forwarding) adds: triage, its
// queue and statistics, web sessions and the forwarding outbox.
type Workbench interface {
	Triage
	Queue
	Stats
	Sessions
	forward.Outbox
}

// Setting keys of the workbench (values are JSON).
const (
	SettingDestinations   = "alert_destinations" // []forward.Config
	SettingOfficeNetworks = "office_networks"    // OfficeNetworks
	SettingRetention      = "retention"          // map table -> days
)

// OfficeNetworks are networks where many machines share one egress address, gateway or
// access point by design: the laptop-farm rules leave hosts behind them out.
type OfficeNetworks struct {
	CIDRs  []string `json:"cidrs,omitempty"`
	MACs   []string `json:"macs,omitempty"`
	BSSIDs []string `json:"bssids,omitempty"`
}
