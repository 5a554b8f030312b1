// Package pipeline is the one path from the collectors to what leaves them: every event goes
// through the policy engine, findings come out with the events behind them (evidence), and the
// state of the inventory kinds (host settings, USB devices, displays, removable media,
// neighbours) is kept and handed out as snapshots when it changes. `vigil scan` runs it once
// (Snapshot) and the agent runs it until stopped (Run), each with its own Sink.
//
// The engine's clock: event times in the future (beyond MaxSkew, a clock jump or a lying
// source) are clamped to now and a zero time is taken as now, so one odd event cannot move
// correlation windows for the whole stream (docs/correlation.md); while running, the engine is
// advanced on a timer, so windows close on time without new events. Evidence: events that
// matched any rule (silent ones that only feed correlations included) are held, bounded in
// count and bytes, so a correlation firing later still carries its events.
package pipeline
