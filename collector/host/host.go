package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/internal/event"
)

// Defaults for Config's zero values.
const (
	DefaultInterval         = 5 * time.Minute
	DefaultNeighborInterval = time.Minute
	commandTimeout          = 10 * time.Second
	maxSeenNeighbors        = 4096
)

// CommandRunner runs a command and returns its standard output.
type CommandRunner func(ctx context.Context, name string, args ...string) ([]byte, error)

// Config configures the host source. Every path defaults to the live system.
type Config struct {
	RootDir  string // "/": where /.dockerenv and /run/.containerenv are looked for
	EtcRoot  string // "/etc": timezone, localtime, default/keyboard, os-release, dconf keyfiles
	ProcRoot string // "/proc": net/route, net/arp, net/if_inet6, net/fib_trie, net/wireless, cpuinfo
	SysRoot  string // "/sys": class/net, class/dmi
	RunRoot  string // "/run": utmp
	// HomeRoot holds the users' home folders ("/home" on Linux, "/Users" on macOS), read for
	// ibus/fcitx (Linux) and HIToolbox/global-preferences plists (macOS).
	HomeRoot string
	// RootHome is root's home folder on Linux ("/root"), read like the others.
	RootHome string
	// RegistryExport, when set, is a regedit export (.reg) describing a Windows host; the
	// inventory is then read from it (host name, OS version, time zone, locale, keyboard layouts,
	// input methods) on any OS, with product "windows".
	RegistryExport string
	// Command runs OS commands (nmcli, ip, route, arp, ipconfig, netsh...); nil runs them for
	// real with a 10 s timeout, on the live system only: when a root or RegistryExport is set,
	// nothing is run unless Command is given. NoCommands disables them.
	Command    CommandRunner
	NoCommands bool
	// Interval between inventory polls (default 5 min); an event is emitted only on change.
	Interval time.Duration
	// NeighborInterval between neighbour-table polls (default 1 min).
	NeighborInterval time.Duration
	Logger           hclog.Logger
}

// Interface is one network interface.
type Interface struct {
	Name      string
	Mac       string
	Addresses []string // "192.0.2.10/24", "fe80::1/64"
	Up        bool
	// Description is the adapter's description where the OS gives one (Windows); it is used to
	// recognise VPN adapters and not reported.
	Description string
}

// Neighbor is one ARP/NDP entry.
type Neighbor struct {
	Ip, Mac, Interface, State string
}

// Inventory is one host_inventory observation.
type Inventory struct {
	Product                       string // linux, macos, windows: the OS described
	Hostname, OsFamily, OsVersion string
	Timezone, UtcOffset, Locale   string
	KeyboardLayouts, InputMethods []string
	Interfaces                    []Interface
	DefaultGatewayIp              string
	DefaultGatewayMac             string
	WifiSsid, WifiBssid           string
	VpnInterfaces                 []string
	Virtualization                string
	LoggedInUsers, RemoteSessions []string
	gatewayIface                  string
	liveZone                      bool
}

// Fields returns the event fields (docs/events.md), leaving out what was not observed.
func (inv *Inventory) Fields() map[string]any {
	f := map[string]any{}
	str := func(k, v string) {
		if v != "" {
			f[k] = v
		}
	}
	list := func(k string, v []string) {
		if len(v) > 0 {
			f[k] = v
		}
	}
	str("Hostname", inv.Hostname)
	str("OsFamily", inv.OsFamily)
	str("OsVersion", inv.OsVersion)
	str("Timezone", inv.Timezone)
	str("UtcOffset", inv.UtcOffset)
	str("Locale", inv.Locale)
	list("KeyboardLayouts", inv.KeyboardLayouts)
	list("InputMethods", inv.InputMethods)
	if len(inv.Interfaces) > 0 {
		var ifs []any
		var macs, ips []string
		for _, it := range inv.Interfaces {
			addrs := it.Addresses
			if addrs == nil {
				addrs = []string{}
			}
			o := map[string]any{"Name": it.Name, "Addresses": addrs, "Up": it.Up}
			if it.Mac != "" {
				o["Mac"] = it.Mac
			}
			ifs = append(ifs, o)
			if it.Mac != "" && it.Mac != "00:00:00:00:00:00" {
				macs = append(macs, it.Mac)
			}
			for _, a := range it.Addresses {
				ips = append(ips, strings.SplitN(a, "/", 2)[0])
			}
		}
		f["Interfaces"] = ifs
		list("MacAddresses", dedupe(macs))
		list("IpAddresses", dedupe(ips))
	}
	str("DefaultGatewayIp", inv.DefaultGatewayIp)
	str("DefaultGatewayMac", inv.DefaultGatewayMac)
	str("WifiSsid", inv.WifiSsid)
	str("WifiBssid", inv.WifiBssid)
	list("VpnInterfaces", inv.VpnInterfaces)
	str("Virtualization", inv.Virtualization)
	list("LoggedInUsers", inv.LoggedInUsers)
	list("RemoteSessions", inv.RemoteSessions)
	return f
}

// finish derives what follows from the gathered facts: VPN interfaces, the UTC offset, gateway
// MAC from the neighbour table, sorted and deduplicated lists.
func (inv *Inventory) finish(neigh []Neighbor) {
	for i := range inv.Interfaces {
		sort.Strings(inv.Interfaces[i].Addresses)
	}
	sort.Slice(inv.Interfaces, func(i, j int) bool { return inv.Interfaces[i].Name < inv.Interfaces[j].Name })
	inv.VpnInterfaces = nil
	for _, it := range inv.Interfaces {
		if IsVPN(it.Name, it.Description) {
			inv.VpnInterfaces = append(inv.VpnInterfaces, it.Name)
		}
	}
	if inv.DefaultGatewayMac == "" && inv.DefaultGatewayIp != "" {
		for _, n := range neigh {
			if n.Ip == inv.DefaultGatewayIp && usableMac(n.Mac) && (inv.gatewayIface == "" || n.Interface == "" || n.Interface == inv.gatewayIface) {
				inv.DefaultGatewayMac = n.Mac
				break
			}
		}
	}
	if inv.UtcOffset == "" {
		inv.UtcOffset = utcOffset(inv.Timezone, inv.liveZone, time.Now())
	}
	inv.KeyboardLayouts = dedupe(inv.KeyboardLayouts)
	inv.InputMethods = dedupe(inv.InputMethods)
	inv.LoggedInUsers = dedupe(inv.LoggedInUsers)
	inv.RemoteSessions = dedupe(inv.RemoteSessions)
}

// utcOffset formats the zone's offset at now ("+09:00"); for the live system without a known zone,
// the process's local zone.
func utcOffset(tz string, live bool, now time.Time) string {
	var off int
	if loc, err := time.LoadLocation(tz); tz != "" && err == nil {
		_, off = now.In(loc).Zone()
	} else if live {
		_, off = now.Zone()
	} else {
		return ""
	}
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	return fmt.Sprintf("%c%02d:%02d", sign, off/3600, off%3600/60)
}

// dedupe keeps the first occurrence of each non-empty string.
func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// sessionLists splits sessions into logged-in users and remote sessions ("user from host (tty)").
func sessionLists(ss []Session) (users, remote []string) {
	for _, s := range ss {
		users = append(users, s.User)
		if h := strings.TrimSpace(s.Host); h != "" && !isLocalDisplay(h) {
			remote = append(remote, fmt.Sprintf("%s from %s (%s)", s.User, h, s.Tty))
		}
	}
	sort.Strings(users)
	sort.Strings(remote)
	return users, remote
}

// isLocalDisplay: utmp's host field holds ":0" or ":0.0" for local X sessions.
func isLocalDisplay(h string) bool {
	return strings.HasPrefix(h, ":") || h == "localhost" || h == "127.0.0.1" || h == "::1"
}

var _ collector.Source = (*Source)(nil)

// Source is the host collector.
type Source struct {
	cfg   Config
	log   hclog.Logger
	given []collector.Root // the roots the caller set, checked before each reading
	mu    sync.Mutex
	seen  map[string]bool
}

// New returns a host source.
func New(cfg Config) *Source {
	// Home folders may be missing (no such user); the system's own trees may not.
	given := []collector.Root{{Stands: "/", Path: cfg.RootDir}, {Stands: "/etc", Path: cfg.EtcRoot},
		{Stands: "/proc", Path: cfg.ProcRoot}, {Stands: "/sys", Path: cfg.SysRoot}, {Stands: "/run", Path: cfg.RunRoot}}
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&cfg.RootDir, "/")
	def(&cfg.EtcRoot, "/etc")
	def(&cfg.ProcRoot, "/proc")
	def(&cfg.SysRoot, "/sys")
	def(&cfg.RunRoot, "/run")
	def(&cfg.HomeRoot, defaultHomeRoot)
	def(&cfg.RootHome, "/root")
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.NeighborInterval <= 0 {
		cfg.NeighborInterval = DefaultNeighborInterval
	}
	cfg.Logger = collector.Logger(cfg.Logger)
	return &Source{cfg: cfg, log: cfg.Logger, given: given, seen: map[string]bool{}}
}

// Name implements collector.Source.
func (s *Source) Name() string { return "host" }

// live reports whether the source reads the running system (no fixture root configured).
func (s *Source) live() bool {
	c := s.cfg
	return c.RootDir == "/" && c.EtcRoot == "/etc" && c.ProcRoot == "/proc" && c.SysRoot == "/sys" && c.RegistryExport == ""
}

// run runs a command through the configured runner; errors name the command.
func (s *Source) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	if s.cfg.NoCommands {
		return nil, errors.New("commands disabled")
	}
	if s.cfg.Command == nil && !s.live() {
		// A command reports on this machine, not on the fixture tree being read.
		return nil, errors.New("commands are not run when reading a fixture tree")
	}
	if s.cfg.Command != nil {
		return s.cfg.Command(ctx, name, args...)
	}
	if _, err := exec.LookPath(name); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return out, nil
}

// DumpRunner returns a CommandRunner that reads captured outputs from dir instead of running
// commands: "arp -an" reads dir/"arp -an.txt" (the command line with spaces kept). For
// `vigil scan` on outputs collected from another machine.
func DumpRunner(dir string) CommandRunner {
	return func(_ context.Context, name string, args ...string) ([]byte, error) {
		p := filepath.Join(dir, strings.Join(append([]string{name}, args...), " ")+".txt")
		b, err := readFile(p)
		if err != nil {
			return nil, fmt.Errorf("captured output: %w", err)
		}
		return b, nil
	}
}

// Inventory gathers the host inventory once.
func (s *Source) Inventory(ctx context.Context) (*Inventory, error) {
	var inv *Inventory
	var neigh []Neighbor
	var err error
	if s.cfg.RegistryExport != "" {
		inv, err = s.fromRegistryExport()
	} else if err = collector.CheckRoots(s.given...); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	} else {
		inv, err = s.gather(ctx)
		neigh, _ = s.Neighbors(ctx)
	}
	if err != nil {
		return nil, err
	}
	inv.finish(neigh)
	return inv, nil
}

func (s *Source) fromRegistryExport() (*Inventory, error) {
	b, err := readFile(s.cfg.RegistryExport)
	if err != nil {
		return nil, fmt.Errorf("host: registry export: %w", err)
	}
	reg, err := ParseRegExport(b)
	if err != nil {
		return nil, fmt.Errorf("host: registry export %s: %w", s.cfg.RegistryExport, err)
	}
	inv := windowsFromRegistry(reg)
	if inv.Hostname == "" && inv.OsVersion == "" && inv.Timezone == "" && inv.Locale == "" &&
		len(inv.KeyboardLayouts) == 0 && len(inv.InputMethods) == 0 {
		return nil, fmt.Errorf("host: registry export %s: none of the keys the inventory reads (ComputerName, CurrentVersion, TimeZoneInformation, HKEY_USERS keyboard and input settings)", s.cfg.RegistryExport)
	}
	return inv, nil
}

// windowsFromRegistry fills what the registry says about a Windows host.
func windowsFromRegistry(reg Registry) *Inventory {
	inv := &Inventory{Product: event.Windows, OsFamily: event.Windows}
	inv.Hostname = WindowsHostname(reg)
	inv.OsVersion = WindowsVersion(reg)
	iana, winName := WindowsTimezone(reg)
	inv.Timezone = iana
	if iana == "" {
		inv.Timezone = winName
	}
	inv.KeyboardLayouts, inv.InputMethods, inv.Locale = WindowsInput(reg)
	return inv
}

// Neighbors reads the neighbour table once (usable entries only: no broadcast, multicast or
// incomplete entries).
func (s *Source) Neighbors(ctx context.Context) ([]Neighbor, error) {
	if s.cfg.RegistryExport != "" {
		return nil, nil
	}
	all, err := s.neighbors(ctx)
	var out []Neighbor
	for _, n := range all {
		n.Mac = NormalizeMac(n.Mac)
		if usableMac(n.Mac) && net.ParseIP(strings.SplitN(n.Ip, "%", 2)[0]) != nil {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Ip != out[j].Ip {
			return out[i].Ip < out[j].Ip
		}
		return out[i].Interface < out[j].Interface
	})
	return out, err
}

func neighborKey(n Neighbor) string { return n.Ip + "|" + n.Mac + "|" + n.Interface }

func (s *Source) product() string {
	if s.cfg.RegistryExport != "" {
		return event.Windows
	}
	return event.LocalProduct()
}

func (s *Source) inventoryEvent(inv *Inventory) *event.Event {
	e := event.New(event.HostInventory, inv.Fields())
	if inv.Product != "" {
		e.Product = inv.Product
	}
	return e
}

// emitNeighbors emits entries not seen before, with the given action.
func (s *Source) emitNeighbors(ns []Neighbor, action string, emit collector.Emit) {
	s.mu.Lock()
	var out []*event.Event
	current := map[string]bool{}
	for _, n := range ns {
		k := neighborKey(n)
		current[k] = true
		if s.seen[k] {
			continue
		}
		s.seen[k] = true
		f := map[string]any{"Ip": n.Ip, "Mac": n.Mac, "MacPrefix": MacPrefix(n.Mac), "Action": action}
		if n.Interface != "" {
			f["Interface"] = n.Interface
		}
		if n.State != "" {
			f["State"] = n.State
		}
		e := event.New(event.Neighbor, f)
		e.Product = s.product()
		out = append(out, e)
	}
	if len(s.seen) > maxSeenNeighbors {
		s.seen = current // bounded memory: keep what is in the table now
	}
	s.mu.Unlock()
	for _, e := range out {
		emit(e)
	}
}

// Snapshot implements collector.Source: one host_inventory event and the neighbour table with
// Action "present".
func (s *Source) Snapshot(ctx context.Context, emit collector.Emit) error {
	inv, err := s.Inventory(ctx)
	if err != nil {
		return err
	}
	emit(s.inventoryEvent(inv))
	ns, err := s.Neighbors(ctx)
	if err != nil {
		s.log.Warn("neighbour table", "error", err)
	}
	s.emitNeighbors(ns, "present", emit)
	return nil
}

// Run implements collector.Source: Snapshot, then a host_inventory event whenever the inventory
// changes (polled every Interval) and neighbor events with Action "added" for entries first seen
// (polled every NeighborInterval).
func (s *Source) Run(ctx context.Context, emit collector.Emit) error {
	inv, err := s.Inventory(ctx)
	if err != nil {
		return err
	}
	emit(s.inventoryEvent(inv))
	last := inv.Fields()
	ns, err := s.Neighbors(ctx)
	if err != nil {
		s.log.Warn("neighbour table", "error", err)
	}
	s.emitNeighbors(ns, "present", emit)

	invTick := time.NewTicker(s.cfg.Interval)
	defer invTick.Stop()
	nTick := time.NewTicker(s.cfg.NeighborInterval)
	defer nTick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-invTick.C:
			inv, err := s.Inventory(ctx)
			if err != nil {
				s.log.Warn("inventory", "error", err)
				continue
			}
			if f := inv.Fields(); !reflect.DeepEqual(f, last) {
				last = f
				emit(s.inventoryEvent(inv))
			}
		case <-nTick.C:
			ns, err := s.Neighbors(ctx)
			if err != nil {
				s.log.Debug("neighbour table", "error", err)
			}
			s.emitNeighbors(ns, "added", emit)
		}
	}
}
