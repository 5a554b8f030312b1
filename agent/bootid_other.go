//go:build !linux

package agent

import (
	"strconv"

	"github.com/shirou/gopsutil/v3/host"
)

// bootID names this boot of the machine: its boot time, to the minute (Windows derives it from
// the uptime, which moves by a second between readings); "" when unknown.
func bootID() string {
	t, err := host.BootTime()
	if err != nil || t == 0 {
		return ""
	}
	return strconv.FormatUint(t/60, 10)
}
