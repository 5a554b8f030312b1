package agent

import (
	"context"
	"runtime/debug"
	"time"
)

// startupSettle is how long after its start the agent lets go of what start-up alone needed:
// by then the rules are compiled and the collectors' first full scans are done.
const startupSettle = 30 * time.Second

// settleMemory, once start-up is over, returns the heap start-up left free to the OS (compiling
// the rule pack and the first scans allocate far more than the agent keeps) and, on Linux, drops
// its mapping of the executable's pages start-up touched (package initialisation, the rule
// compiler): they stay in the page cache and come back on a minor fault if they are used again,
// so the resident set afterwards is the code the agent runs, not all it ever ran.
func (a *agent) settleMemory(ctx context.Context) {
	t := time.NewTimer(startupSettle)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return
	case <-t.C:
	}
	debug.FreeOSMemory()
	dropped, err := dropExecutablePages()
	if err != nil {
		a.log.Debug("executable pages kept", "error", err)
		return
	}
	a.log.Debug("start-up memory released", "executable_pages_dropped_kib", dropped>>10)
}
