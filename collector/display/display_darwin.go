package display

import (
	"context"
	"fmt"
	"os/exec"

	"github.com/vigilhq/vigil/internal/event"
)

// liveBackend asks ioreg for IODisplayConnect entries (Intel Macs, IODisplayEDID) and, when
// that finds nothing, for AppleCLCD2 entries (Apple silicon, DisplayAttributes).
func (s *Source) liveBackend() (*backend, error) {
	return &backend{Product: event.MacOS, List: func(ctx context.Context) ([]Display, error) {
		var all []Display
		for _, class := range []string{"IODisplayConnect", "AppleCLCD2"} {
			out, err := exec.CommandContext(ctx, "/usr/sbin/ioreg", "-lw0", "-r", "-c", class).Output()
			if err != nil {
				return nil, fmt.Errorf("ioreg -c %s: %w", class, err)
			}
			ds, err := DisplaysFromIoreg(out)
			if err != nil {
				return nil, fmt.Errorf("ioreg -c %s output: %w", class, err)
			}
			if len(ds) > 0 {
				all = append(all, ds...)
				break
			}
		}
		return all, nil
	}}, nil
}
