// Package ingest is the only writer of what agents send: it validates a batch (naming the
// offending field), stamps every item with the host of the agent's token (never the body's),
// writes it in one store transaction, records the server-side facts the fleet rules use (the
// address the agent's requests come from, its gateway and Wi-Fi access point), and coalesces
// check-ins in memory so that a heartbeat costs no database write of its own: the hosts seen are
// flushed together every FlushInterval.
package ingest
