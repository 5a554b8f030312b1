package process

import (
	"encoding/binary"
	"fmt"
)

// Wire format of the Linux process-events connector (linux/netlink.h, linux/connector.h,
// linux/cn_proc.h), parsed here in plain Go so it is tested and fuzzed on every OS. The kernel
// writes in host byte order.

const (
	cnIdxProc = 1 // CN_IDX_PROC: connector index, also the multicast group
	cnValProc = 1 // CN_VAL_PROC

	procCnMcastListen = 1 // PROC_CN_MCAST_LISTEN
	procCnMcastIgnore = 2 // PROC_CN_MCAST_IGNORE

	procEventNone = 0x00000000 // PROC_EVENT_NONE: the ack of a listen/ignore request
	procEventFork = 0x00000001
	procEventExec = 0x00000002
	procEventExit = 0x80000000

	nlmsgHdrLen = 16 // struct nlmsghdr
	cnMsgLen    = 20 // struct cn_msg without data
	procHdrLen  = 16 // struct proc_event: what, cpu, timestamp_ns

	nlmsgError = 2 // NLMSG_ERROR
	nlmsgDone  = 3 // NLMSG_DONE
)

// procEvent is one decoded proc_event.
type procEvent struct {
	What      uint32
	Timestamp uint64 // kernel CLOCK_MONOTONIC nanoseconds
	Seq, Ack  uint32 // the cn_msg's, to match an ack to its request

	// FORK: the new task and its parent. EXEC and EXIT: the task in Pid/Tgid.
	Pid, Tgid             int
	ParentPid, ParentTgid int
	// Err is the ack's error number (0: the request was accepted).
	Err uint32
}

var ne = binary.NativeEndian

// parseConnector decodes every proc_event in a datagram read from a NETLINK_CONNECTOR socket,
// calling fn for each. Messages of other connector indexes are skipped; a truncated or
// inconsistent message is an error naming the field and offset.
func parseConnector(buf []byte, fn func(procEvent)) error {
	for off := 0; len(buf)-off >= nlmsgHdrLen; {
		msgLen := int(ne.Uint32(buf[off:]))
		typ := ne.Uint16(buf[off+4:])
		if msgLen < nlmsgHdrLen || msgLen > len(buf)-off {
			return fmt.Errorf("netlink message at offset %d: field nlmsg_len: %d outside [%d, %d]", off, msgLen, nlmsgHdrLen, len(buf)-off)
		}
		payload := buf[off+nlmsgHdrLen : off+msgLen]
		off += (msgLen + 3) &^ 3 // NLMSG_ALIGN
		switch typ {
		case nlmsgError:
			if len(payload) >= 4 {
				if code := int32(ne.Uint32(payload)); code != 0 {
					return fmt.Errorf("netlink error message: errno %d", -code)
				}
			}
			continue
		case nlmsgDone:
		default:
			continue
		}
		if len(payload) < cnMsgLen {
			return fmt.Errorf("connector message at offset %d: %d bytes, shorter than cn_msg (%d)", off, len(payload), cnMsgLen)
		}
		idx, val := ne.Uint32(payload), ne.Uint32(payload[4:])
		if idx != cnIdxProc || val != cnValProc {
			continue
		}
		dataLen := int(ne.Uint16(payload[16:]))
		data := payload[cnMsgLen:]
		if dataLen > len(data) {
			return fmt.Errorf("connector message: field len: %d, only %d bytes follow", dataLen, len(data))
		}
		data = data[:dataLen]
		ev, err := parseProcEvent(data)
		if err != nil {
			return err
		}
		ev.Seq, ev.Ack = ne.Uint32(payload[8:]), ne.Uint32(payload[12:])
		fn(ev)
	}
	return nil
}

// parseProcEvent decodes one struct proc_event.
func parseProcEvent(data []byte) (procEvent, error) {
	var ev procEvent
	if len(data) < procHdrLen {
		return ev, fmt.Errorf("proc_event: %d bytes, shorter than its header (%d)", len(data), procHdrLen)
	}
	ev.What = ne.Uint32(data)
	ev.Timestamp = ne.Uint64(data[8:])
	d := data[procHdrLen:]
	need := func(n int, name string) error {
		if len(d) < n {
			return fmt.Errorf("proc_event %s: %d bytes of event data, need %d", name, len(d), n)
		}
		return nil
	}
	i32 := func(at int) int { return int(int32(ne.Uint32(d[at:]))) }
	switch ev.What {
	case procEventNone:
		if err := need(4, "ack"); err != nil {
			return ev, err
		}
		ev.Err = ne.Uint32(d)
	case procEventFork:
		if err := need(16, "fork"); err != nil {
			return ev, err
		}
		ev.ParentPid, ev.ParentTgid, ev.Pid, ev.Tgid = i32(0), i32(4), i32(8), i32(12)
	case procEventExec:
		if err := need(8, "exec"); err != nil {
			return ev, err
		}
		ev.Pid, ev.Tgid = i32(0), i32(4)
	case procEventExit:
		if err := need(8, "exit"); err != nil {
			return ev, err
		}
		ev.Pid, ev.Tgid = i32(0), i32(4)
		if len(d) >= 24 {
			ev.ParentPid, ev.ParentTgid = i32(16), i32(20)
		}
	}
	return ev, nil
}

// connectorControl builds the datagram that asks the kernel to start (procCnMcastListen) or stop
// (procCnMcastIgnore) sending process events to this socket. The kernel acks with a
// PROC_EVENT_NONE multicast to every listener whose cn_msg ack is the request's ack plus one
// (current kernels overwrite the seq), so the request's seq is also sent as its ack: a
// listener recognises its own ack by ack == seq+1.
func connectorControl(op, seq uint32) []byte {
	const total = nlmsgHdrLen + cnMsgLen + 4
	b := make([]byte, total)
	ne.PutUint32(b[0:], total)
	ne.PutUint16(b[4:], nlmsgDone)
	ne.PutUint32(b[8:], seq)
	c := b[nlmsgHdrLen:]
	ne.PutUint32(c[0:], cnIdxProc)
	ne.PutUint32(c[4:], cnValProc)
	ne.PutUint32(c[8:], seq)
	ne.PutUint32(c[12:], seq)
	ne.PutUint16(c[16:], 4)
	ne.PutUint32(c[cnMsgLen:], op)
	return b
}
