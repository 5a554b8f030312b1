package agent

import (
	"fmt"

	"golang.org/x/sys/windows/registry"
)

// osMachineID reads HKLM\SOFTWARE\Microsoft\Cryptography\MachineGuid (the 64-bit view).
func osMachineID() (string, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Cryptography`, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return "", fmt.Errorf("MachineGuid: %w", err)
	}
	defer k.Close()
	v, _, err := k.GetStringValue("MachineGuid")
	if err != nil {
		return "", fmt.Errorf("MachineGuid: %w", err)
	}
	return cleanID(v)
}
