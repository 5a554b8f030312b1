package agent

import (
	"errors"
	"os"
)

// osMachineID reads /etc/machine-id (systemd), else /var/lib/dbus/machine-id.
func osMachineID() (string, error) {
	var errs []error
	for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		b, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		id, err := cleanID(string(b))
		if err == nil {
			return id, nil
		}
		errs = append(errs, err)
	}
	return "", errors.Join(errs...)
}
