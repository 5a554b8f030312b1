//go:build !linux

package netconn

import (
	"context"
	"fmt"

	gnet "github.com/shirou/gopsutil/v3/net"
)

// newSocketLister returns gopsutil's listing, and no quick listener look (sock_diag is Linux's)
// nor look at new processes' sockets.
func newSocketLister(s *Source) (func(context.Context) ([]Socket, error), func(context.Context, []int) ([]Socket, error), func([]int) bool) {
	return s.gopsutilSockets, nil, nil
}

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
