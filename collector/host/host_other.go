//go:build !linux && !darwin && !windows

package host

import (
	"context"
	"os"
	"runtime"

	"github.com/vigilhq/vigil/internal/event"
)

const defaultHomeRoot = "/home"

// gather on other systems: host name, interfaces, the /etc/localtime zone and `arp -an`.
func (s *Source) gather(ctx context.Context) (*Inventory, error) {
	inv := &Inventory{Product: event.ProductFor(runtime.GOOS), OsFamily: runtime.GOOS, liveZone: s.live()}
	inv.Hostname, _ = os.Hostname()
	inv.Timezone = TimezoneFromEtc(s.cfg.EtcRoot)
	inv.Interfaces = interfacesFromNet()
	return inv, nil
}

func (s *Source) neighbors(ctx context.Context) ([]Neighbor, error) {
	out, err := s.run(ctx, "arp", "-an")
	if err != nil {
		return nil, err
	}
	return ParseBSDArp(out), nil
}
