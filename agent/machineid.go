package agent

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// machineID returns the OS's stable machine identifier (osMachineID, per OS), or else one the
// agent made and keeps in the state folder, so re-enrolling finds the same host either way.
func machineID(stateDir string) (string, error) {
	if id, err := osMachineID(); err == nil && id != "" {
		return id, nil
	}
	path := filepath.Join(stateDir, "machine-id")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 16 {
		return strings.TrimSpace(string(b)), nil
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("machine id: %w", err)
	}
	id := "vigil-" + hex.EncodeToString(raw[:])
	if err := writeFileAtomic(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("machine id: %w", err)
	}
	return id, nil
}

// cleanID trims an identifier read from the OS and refuses an empty or all-zero one (some
// images ship an empty /etc/machine-id; some firmware a zero UUID).
func cleanID(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if strings.Trim(s, "0-") == "" {
		return "", fmt.Errorf("machine id %q is empty", s)
	}
	return s, nil
}
