//go:build !linux && !darwin && !windows

package agent

import "errors"

// osMachineID: no OS identifier is read on this system; the agent keeps its own.
func osMachineID() (string, error) { return "", errors.New("no machine id on this OS") }
