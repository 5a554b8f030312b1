package agent

import (
	"os"
	"strings"
)

// bootID names this boot of the machine (the kernel's random boot id); "" when unknown.
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
