// Package forward sends findings to the places security teams already watch: per-finding
// webhooks (JSON, or Slack-compatible text), syslog (RFC 5424 over UDP, TCP or TLS, with an
// ArcSight CEF option), Splunk's HTTP Event Collector, and a JSON-lines file in Elastic Common
// Schema field names for any SIEM that tails files.
//
// Delivery goes through an outbox: Publish routes each finding to the destinations whose
// filters (minimum level, rule patterns) accept it and records one Delivery per pair in the
// Outbox, which the store implements inside the database. A Dispatcher runs one worker per
// destination that claims that destination's due deliveries, sends them oldest first, and on
// failure retries with exponential backoff. Destinations never share a worker, so one that is
// down delays nothing else; deliveries stay in the outbox until acknowledged, so nothing is
// lost while it is down, and every delivery it missed arrives when it comes back. Delivery is
// at least once: receivers deduplicate by the finding id, which every format carries.
package forward
