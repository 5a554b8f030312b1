//go:build !linux

package netconn

import (
	"context"
	"fmt"

	gnet "github.com/shirou/gopsutil/v3/net"
)

func newSocketLister(s *Source) func(context.Context) ([]Socket, error) { return s.gopsutilSockets }

// gopsutilSockets lists the sockets through gopsutil (macOS, Windows).
func (s *Source) gopsutilSockets(ctx context.Context) ([]Socket, error) {
	kind := "inet"
	if s.cfg.NoUDP {
		kind = "tcp"
	}
	stats, err := gnet.ConnectionsWithoutUidsWithContext(ctx, kind)
	if err != nil {
		return nil, fmt.Errorf("list sockets: %w", err)
	}
	return fromGopsutil(stats), nil
}
