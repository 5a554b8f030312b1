package usb

import (
	"context"
	"fmt"
	"os/exec"

	"github.com/vigilhq/vigil/internal/event"
)

// liveBackend runs `ioreg -p IOUSB -l -w0` on every poll: the USB plane only, so it is small.
func (s *Source) liveBackend() (*backend, error) {
	return &backend{Product: event.MacOS, List: func(ctx context.Context) ([]Device, error) {
		out, err := exec.CommandContext(ctx, "/usr/sbin/ioreg", "-p", "IOUSB", "-l", "-w0").Output()
		if err != nil {
			return nil, fmt.Errorf("ioreg -p IOUSB: %w", err)
		}
		d, err := DevicesFromIoreg(out)
		if err != nil {
			return nil, fmt.Errorf("ioreg -p IOUSB output: %w", err)
		}
		return d, nil
	}}, nil
}
