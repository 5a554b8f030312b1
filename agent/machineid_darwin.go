package agent

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"time"
)

var platformUUID = regexp.MustCompile(`"IOPlatformUUID" = "([0-9A-Fa-f-]+)"`)

// osMachineID reads the IOPlatformUUID from `ioreg -rd1 -c IOPlatformExpertDevice`.
func osMachineID() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/sbin/ioreg", "-rd1", "-c", "IOPlatformExpertDevice").Output()
	if err != nil {
		return "", fmt.Errorf("ioreg: %w", err)
	}
	m := platformUUID.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("ioreg: no IOPlatformUUID")
	}
	return cleanID(string(m[1]))
}
