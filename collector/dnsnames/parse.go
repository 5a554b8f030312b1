package dnsnames

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// maxRecords bounds the answer records read from one message.
const maxRecords = 64

// AddMessage parses one DNS message and, when it is a successful response, adds its A and AAAA
// answers to the cache under the name the question asked for (the name the program looked up,
// not the CNAME targets in between). Other messages are ignored; a message that does not parse
// is an error.
func (c *Cache) AddMessage(msg []byte, now time.Time) error {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return fmt.Errorf("dns header: %w", err)
	}
	if !h.Response || h.RCode != dnsmessage.RCodeSuccess {
		return nil
	}
	q, err := p.Question()
	if errors.Is(err, dnsmessage.ErrSectionDone) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("dns question: %w", err)
	}
	if q.Type != dnsmessage.TypeA && q.Type != dnsmessage.TypeAAAA {
		return nil
	}
	name := hostname(q.Name)
	if name == "" {
		return nil
	}
	if err := p.SkipAllQuestions(); err != nil {
		return fmt.Errorf("dns questions: %w", err)
	}
	added := 0
	for i := 0; i < maxRecords; i++ {
		rh, err := p.AnswerHeader()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			break
		}
		if err != nil {
			return fmt.Errorf("dns answer %d: %w", i, err)
		}
		ttl := time.Duration(rh.TTL) * time.Second
		switch rh.Type {
		case dnsmessage.TypeA:
			r, err := p.AResource()
			if err != nil {
				return fmt.Errorf("dns A record: %w", err)
			}
			c.Add(name, netip.AddrFrom4(r.A), ttl, now)
			added++
		case dnsmessage.TypeAAAA:
			r, err := p.AAAAResource()
			if err != nil {
				return fmt.Errorf("dns AAAA record: %w", err)
			}
			c.Add(name, netip.AddrFrom16(r.AAAA), ttl, now)
			added++
		default:
			if err := p.SkipAnswer(); err != nil {
				return fmt.Errorf("dns answer %d: %w", i, err)
			}
		}
	}
	return nil
}

// hostname renders a question name as a host name: lower case, without the final dot; "" for a
// name that is not printable.
func hostname(n dnsmessage.Name) string {
	s := strings.TrimSuffix(n.String(), ".")
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f {
			return ""
		}
	}
	return strings.ToLower(s)
}

// AddPacket parses an IP packet (IPv4 or IPv6, starting at the IP header) carrying a DNS
// response from source port 53 over UDP, or over TCP when the segment holds whole
// length-prefixed messages, and adds its answers. Other packets are ignored; malformed ones are
// counted and give an error.
func (c *Cache) AddPacket(pkt []byte, now time.Time) error {
	payload, tcp, err := dnsPayload(pkt)
	if err != nil || payload == nil {
		if err != nil {
			c.count(0, 1)
		}
		return err
	}
	var msgs [][]byte
	if tcp {
		// Messages over TCP are prefixed by a 2-byte length. Only segments holding whole
		// messages are read (answers larger than one segment are skipped).
		for len(payload) >= 2 {
			n := int(binary.BigEndian.Uint16(payload))
			if n == 0 || len(payload) < 2+n {
				break
			}
			msgs = append(msgs, payload[2:2+n])
			payload = payload[2+n:]
		}
	} else {
		msgs = [][]byte{payload}
	}
	var errs []error
	for _, m := range msgs {
		if err := c.AddMessage(m, now); err != nil {
			errs = append(errs, err)
		}
	}
	c.count(len(msgs)-len(errs), len(errs))
	return errors.Join(errs...)
}

// dnsPayload returns the transport payload of a packet from port 53 (nil when the packet is
// something else: another port, a fragment, an empty segment).
func dnsPayload(pkt []byte) (payload []byte, tcp bool, err error) {
	if len(pkt) < 1 {
		return nil, false, errors.New("empty packet")
	}
	var proto byte
	var l4 []byte
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < 20 {
			return nil, false, errors.New("short IPv4 header")
		}
		ihl := int(pkt[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(pkt[2:]))
		if ihl < 20 || total < ihl || len(pkt) < total {
			return nil, false, fmt.Errorf("IPv4 header length %d, total %d, packet %d", ihl, total, len(pkt))
		}
		if binary.BigEndian.Uint16(pkt[6:])&0x3fff != 0 {
			return nil, false, nil // a fragment (or more to come): not read
		}
		proto, l4 = pkt[9], pkt[ihl:total]
	case 6:
		if len(pkt) < 40 {
			return nil, false, errors.New("short IPv6 header")
		}
		plen := int(binary.BigEndian.Uint16(pkt[4:]))
		if len(pkt) < 40+plen {
			return nil, false, fmt.Errorf("IPv6 payload length %d, packet %d", plen, len(pkt))
		}
		proto, l4 = pkt[6], pkt[40:40+plen]
	default:
		return nil, false, fmt.Errorf("IP version %d", pkt[0]>>4)
	}
	switch proto {
	case 17: // UDP
		if len(l4) < 8 {
			return nil, false, errors.New("short UDP header")
		}
		if binary.BigEndian.Uint16(l4) != 53 {
			return nil, false, nil
		}
		return l4[8:], false, nil
	case 6: // TCP
		if len(l4) < 20 {
			return nil, false, errors.New("short TCP header")
		}
		if binary.BigEndian.Uint16(l4) != 53 {
			return nil, false, nil
		}
		off := int(l4[12]>>4) * 4
		if off < 20 || off > len(l4) {
			return nil, false, fmt.Errorf("TCP data offset %d, segment %d", off, len(l4))
		}
		if off == len(l4) {
			return nil, true, nil
		}
		return l4[off:], true, nil
	}
	return nil, false, nil
}
