// Package e2e is Vigil's scenario suite: the product proven on real tools, with the real
// `vigil` binary (built once per run) as the server and the agents, and every finding read back
// through the admin API. Scenarios: real remote-access servers from Debian packages, started
// from their install location and again as renamed copies; data staged in a hidden folder,
// archived with a password and copied to a loop-mounted stick; fifteen repositories cloned;
// a laptop farm of agents in network namespaces behind one gateway, with a fourth agent at a
// declared office left out; a benign developer hour; an alert forwarded to a syslog receiver
// and a webhook. Latencies are measured and logged, never asserted: the deadlines are generous
// and the figures go in the test log (docs/performance.md quotes them).
//
// The scenarios need Linux, root (network namespaces, loop mounts, the process connector) and
// the Debian packages .ci/run installs; each one whose prerequisites are missing is skipped
// with a message naming them, unless VIGIL_REQUIRE_SCENARIOS=1 (set by .ci/run), which makes
// a missing prerequisite a failure.
//
// The package's non-test files are the harness the scenarios share: the binary, a server and
// its admin client, agents with their own machine ids, state and watched roots, network
// namespaces joined by a bridge, and alert receivers. capacity.sh (not run in CI) finds how
// many simulated agents one server holds at a check-in p99 under 100 ms with `vigil loadgen`,
// on SQLite, on PostgreSQL and with two replicas on one PostgreSQL.
package e2e
