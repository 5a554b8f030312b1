package host

import "net"

// fillAddrsLive sets interface addresses (and MACs and flags missing from sysfs) from the kernel.
func fillAddrsLive(inv *Inventory) {
	ifs, err := net.Interfaces()
	if err != nil {
		return
	}
	idx := map[string]int{}
	for i, it := range inv.Interfaces {
		idx[it.Name] = i
	}
	for _, ni := range ifs {
		i, ok := idx[ni.Name]
		if !ok {
			inv.Interfaces = append(inv.Interfaces, Interface{Name: ni.Name, Mac: NormalizeMac(ni.HardwareAddr.String()), Up: ni.Flags&net.FlagUp != 0})
			i = len(inv.Interfaces) - 1
		}
		addrs, _ := ni.Addrs()
		for _, a := range addrs {
			inv.Interfaces[i].Addresses = append(inv.Interfaces[i].Addresses, a.String())
		}
	}
}
