package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	_ "time/tzdata" // Windows has no zoneinfo: embed it so UtcOffset works for IANA names
	"unsafe"

	"github.com/shirou/gopsutil/v3/host"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"

	"github.com/vigilhq/vigil/collector/winreg"
)

const defaultHomeRoot = `C:\Users`

// gather reads a Windows host: the live registry (host name, version, time zone, keyboard layouts,
// TIPs, locale), GetAdaptersAddresses (interfaces with descriptions, gateways), the neighbour
// table (gateway MAC), `netsh wlan show interfaces`, WTS sessions and gopsutil's virtualization.
func (s *Source) gather(ctx context.Context) (*Inventory, error) {
	inv := windowsFromRegistry(liveRegistry{})
	inv.liveZone = s.live()
	if inv.Hostname == "" {
		inv.Hostname, _ = os.Hostname()
	}
	ifs, gw, gwIface, err := adapters()
	if err != nil {
		s.log.Debug("adapters", "error", err)
		ifs = interfacesFromNet()
	}
	inv.Interfaces, inv.DefaultGatewayIp, inv.gatewayIface = ifs, gw, gwIface
	if out, err := s.run(ctx, "netsh", "wlan", "show", "interfaces"); err == nil {
		w := ParseNetshWlan(out)
		inv.WifiSsid, inv.WifiBssid = w.Ssid, w.Bssid
	}
	if sys, role, err := host.VirtualizationWithContext(ctx); err == nil && role == "guest" && sys != "" {
		inv.Virtualization = sys
	} else {
		inv.Virtualization = "none"
	}
	if ss, err := wtsSessions(); err == nil {
		inv.LoggedInUsers, inv.RemoteSessions = sessionLists(ss)
	} else {
		s.log.Debug("sessions", "error", err)
	}
	return inv, nil
}

// neighbors parses `arp -a`.
func (s *Source) neighbors(ctx context.Context) ([]Neighbor, error) {
	out, err := s.run(ctx, "arp", "-a")
	if err != nil {
		return nil, err
	}
	return ParseWindowsArp(out), nil
}

// adapters lists adapters with GetAdaptersAddresses; the default gateway is the first IPv4
// gateway of an adapter that is up.
func adapters() ([]Interface, string, string, error) {
	size := uint32(15000)
	var buf []byte
	for i := 0; i < 3; i++ {
		buf = make([]byte, size)
		err := windows.GetAdaptersAddresses(windows.AF_UNSPEC, windows.GAA_FLAG_INCLUDE_GATEWAYS|windows.GAA_FLAG_SKIP_DNS_SERVER|windows.GAA_FLAG_SKIP_MULTICAST|windows.GAA_FLAG_SKIP_ANYCAST,
			0, (*windows.IpAdapterAddresses)(unsafe.Pointer(&buf[0])), &size)
		if err == nil {
			break
		}
		if !errors.Is(err, windows.ERROR_BUFFER_OVERFLOW) || i == 2 {
			return nil, "", "", fmt.Errorf("GetAdaptersAddresses: %w", err)
		}
	}
	var out []Interface
	gw, gwIface := "", ""
	for a := (*windows.IpAdapterAddresses)(unsafe.Pointer(&buf[0])); a != nil; a = a.Next {
		it := Interface{
			Name:        windows.UTF16PtrToString(a.FriendlyName),
			Description: windows.UTF16PtrToString(a.Description),
			Up:          a.OperStatus == windows.IfOperStatusUp,
		}
		if a.PhysicalAddressLength > 0 && a.PhysicalAddressLength <= uint32(len(a.PhysicalAddress)) {
			it.Mac = NormalizeMac(net.HardwareAddr(a.PhysicalAddress[:a.PhysicalAddressLength]).String())
		}
		for u := a.FirstUnicastAddress; u != nil; u = u.Next {
			if ip := u.Address.IP(); ip != nil {
				it.Addresses = append(it.Addresses, fmt.Sprintf("%s/%d", ip, u.OnLinkPrefixLength))
			}
		}
		for g := a.FirstGatewayAddress; g != nil && gw == "" && it.Up; g = g.Next {
			if ip := g.Address.IP(); ip != nil && ip.To4() != nil {
				gw, gwIface = ip.String(), it.Name
			}
		}
		out = append(out, it)
	}
	return out, gw, gwIface, nil
}

var (
	wtsapi32                       = windows.NewLazySystemDLL("wtsapi32.dll")
	procWTSQuerySessionInformation = wtsapi32.NewProc("WTSQuerySessionInformationW")
)

const (
	wtsUserName   = 5
	wtsClientName = 10
)

func wtsQuery(id uint32, class uint32) string {
	var p *uint16
	var n uint32
	r, _, _ := procWTSQuerySessionInformation.Call(0, uintptr(id), uintptr(class), uintptr(unsafe.Pointer(&p)), uintptr(unsafe.Pointer(&n)))
	if r == 0 || p == nil {
		return ""
	}
	defer windows.WTSFreeMemory(uintptr(unsafe.Pointer(p)))
	return windows.UTF16PtrToString(p)
}

// wtsSessions lists the terminal-services sessions with a user. A session whose window station is
// RDP-Tcp#N is remote; its host is the client's name.
func wtsSessions() ([]Session, error) {
	var infos *windows.WTS_SESSION_INFO
	var count uint32
	if err := windows.WTSEnumerateSessions(0, 0, 1, &infos, &count); err != nil {
		return nil, fmt.Errorf("WTSEnumerateSessions: %w", err)
	}
	defer windows.WTSFreeMemory(uintptr(unsafe.Pointer(infos)))
	var out []Session
	for _, si := range unsafe.Slice(infos, count) {
		user := wtsQuery(si.SessionID, wtsUserName)
		if user == "" {
			continue
		}
		station := windows.UTF16PtrToString(si.WindowStationName)
		s := Session{User: user, Tty: station}
		if strings.HasPrefix(strings.ToUpper(station), "RDP-TCP") {
			s.Host = wtsQuery(si.SessionID, wtsClientName)
			if s.Host == "" {
				s.Host = "unknown"
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// liveRegistry reads the running system's registry.
type liveRegistry struct{}

func openKey(path string) (registry.Key, error) {
	hive, rest, _ := strings.Cut(winreg.NormalizeHive(path), `\`)
	var root registry.Key
	switch strings.ToUpper(hive) {
	case "HKEY_LOCAL_MACHINE":
		root = registry.LOCAL_MACHINE
	case "HKEY_USERS":
		root = registry.USERS
	case "HKEY_CURRENT_USER":
		root = registry.CURRENT_USER
	default:
		return 0, fmt.Errorf("registry key %s: unknown hive", path)
	}
	if rest == "" {
		return root, nil
	}
	k, err := registry.OpenKey(root, rest, registry.READ)
	if err != nil {
		return 0, fmt.Errorf("registry key %s: %w", path, err)
	}
	return k, nil
}

func (liveRegistry) Subkeys(key string) ([]string, error) {
	k, err := openKey(key)
	if err != nil {
		return nil, err
	}
	defer k.Close()
	return k.ReadSubKeyNames(-1)
}

func (liveRegistry) Values(key string) (map[string]any, error) {
	k, err := openKey(key)
	if err != nil {
		return nil, err
	}
	defer k.Close()
	names, err := k.ReadValueNames(-1)
	if err != nil {
		return nil, fmt.Errorf("registry key %s: %w", key, err)
	}
	out := map[string]any{}
	for _, n := range names {
		_, typ, err := k.GetValue(n, nil)
		if err != nil {
			continue
		}
		switch typ {
		case registry.SZ, registry.EXPAND_SZ:
			if v, _, err := k.GetStringValue(n); err == nil {
				out[n] = v
			}
		case registry.MULTI_SZ:
			if v, _, err := k.GetStringsValue(n); err == nil {
				out[n] = v
			}
		case registry.DWORD, registry.QWORD:
			if v, _, err := k.GetIntegerValue(n); err == nil {
				out[n] = v
			}
		default:
			if v, _, err := k.GetBinaryValue(n); err == nil {
				out[n] = v
			}
		}
	}
	return out, nil
}
