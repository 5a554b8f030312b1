package dnsnames

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// snapLen is the most of a packet the filter passes: a UDP answer is at most 64 KiB.
const snapLen = 65535

// filter is the classic BPF program attached to the packet socket. The socket is SOCK_DGRAM, so
// the program sees packets from the IP header on, whatever the link (Ethernet, loopback, a VPN's
// tun). It passes IPv4 and IPv6 UDP or TCP packets from port 53 that this host receives (packets
// it sends, such as a local resolver's answers on loopback, are seen again as received) and
// drops everything else in the kernel, so the agent never copies other traffic.
func filter() ([]bpf.RawInstruction, error) {
	const (
		accept = 22
		reject = 23
	)
	prog := []bpf.Instruction{
		/* 0 */ bpf.LoadExtension{Num: bpf.ExtType},
		/* 1 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipTrue: reject - 2},
		/* 2 */ bpf.LoadAbsolute{Off: 0, Size: 1},
		/* 3 */ bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0},
		/* 4 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x60, SkipTrue: 15 - 5},
		/* 5 */ bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 0x40, SkipTrue: reject - 6},
		// IPv4: UDP or TCP, not a later fragment, source port 53.
		/* 6 */ bpf.LoadAbsolute{Off: 9, Size: 1},
		/* 7 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 17, SkipTrue: 1},
		/* 8 */ bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 6, SkipTrue: reject - 9},
		/* 9 */ bpf.LoadAbsolute{Off: 6, Size: 2},
		/* 10 */ bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff, SkipTrue: reject - 11},
		/* 11 */ bpf.LoadMemShift{Off: 0},
		/* 12 */ bpf.LoadIndirect{Off: 0, Size: 2},
		/* 13 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 53, SkipTrue: accept - 14, SkipFalse: reject - 14},
		/* 14 */ bpf.RetConstant{Val: 0},
		// IPv6: UDP or TCP as the next header, source port 53.
		/* 15 */ bpf.LoadAbsolute{Off: 6, Size: 1},
		/* 16 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 17, SkipTrue: 1},
		/* 17 */ bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 6, SkipTrue: reject - 18},
		/* 18 */ bpf.LoadAbsolute{Off: 40, Size: 2},
		/* 19 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 53, SkipTrue: accept - 20, SkipFalse: reject - 20},
		/* 20 */ bpf.RetConstant{Val: 0},
		/* 21 */ bpf.RetConstant{Val: 0},
		/* 22 accept */ bpf.RetConstant{Val: snapLen},
		/* 23 reject */ bpf.RetConstant{Val: 0},
	}
	return bpf.Assemble(prog)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Capture receives DNS answers on every interface of this host's network namespace and adds
// them to the cache until ctx ends. It needs CAP_NET_RAW; without it, it returns an error
// wrapping unix.EPERM at once.
func (c *Cache) Capture(ctx context.Context, log hclog.Logger) error {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	raw, err := filter()
	if err != nil {
		return fmt.Errorf("dns capture: assemble filter: %w", err)
	}
	// Protocol 0 receives nothing until bind: the filter is in place before the first packet.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("dns capture: packet socket: %w", err)
	}
	defer unix.Close(fd)
	ins := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		ins[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(ins)), Filter: &ins[0]}); err != nil {
		return fmt.Errorf("dns capture: attach filter: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	tv := unix.NsecToTimeval((250 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("dns capture: receive timeout: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL)}); err != nil {
		return fmt.Errorf("dns capture: bind: %w", err)
	}
	log.Debug("capturing DNS answers")
	buf := make([]byte, snapLen)
	warned := false
	for ctx.Err() == nil {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("dns capture: receive: %w", err)
		}
		if err := c.AddPacket(buf[:n], time.Now()); err != nil && !warned {
			warned = true
			log.Debug("malformed DNS answer (further ones counted, not logged)", "error", err)
		}
	}
	return nil
}
