package host

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// InterfacesFromSysfs lists sys/class/net: name, MAC, and up (IFF_UP in flags).
func InterfacesFromSysfs(sys string) []Interface {
	dir := filepath.Join(sys, "class", "net")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []Interface
	for _, e := range ents {
		name := e.Name()
		it := Interface{Name: name}
		if b, err := readFile(filepath.Join(dir, name, "address")); err == nil {
			it.Mac = NormalizeMac(strings.TrimSpace(string(b)))
		}
		if b, err := readFile(filepath.Join(dir, name, "flags")); err == nil {
			if v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(string(b)), "0x"), 16, 32); err == nil {
				it.Up = v&1 != 0
			}
		}
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// VirtualizationFromFiles detects containers and hypervisors from Linux files: container markers
// (/.dockerenv, /run/.containerenv, container= in PID 1's environment, cgroup paths), DMI vendor
// and product names, and the cpuinfo hypervisor flag.
func VirtualizationFromFiles(root, proc, sys string) string {
	if _, err := os.Stat(filepath.Join(root, ".dockerenv")); err == nil {
		return "docker"
	}
	if _, err := os.Stat(filepath.Join(root, "run", ".containerenv")); err == nil {
		return "podman"
	}
	if b, err := readFile(filepath.Join(proc, "1", "environ")); err == nil {
		for _, kv := range bytes.Split(b, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte("container=")); ok && len(v) > 0 {
				return string(v)
			}
		}
	}
	if b, err := readFile(filepath.Join(proc, "1", "cgroup")); err == nil {
		s := string(b)
		for _, c := range []string{"docker", "kubepods", "lxc", "containerd", "libpod"} {
			if strings.Contains(s, c) {
				return c
			}
		}
	}
	var dmi string
	for _, f := range []string{"sys_vendor", "product_name", "board_vendor", "bios_vendor"} {
		if b, err := readFile(filepath.Join(sys, "class", "dmi", "id", f)); err == nil {
			dmi += " " + strings.ToLower(strings.TrimSpace(string(b)))
		}
	}
	for _, h := range []struct{ needle, name string }{
		{"vmware", "vmware"}, {"virtualbox", "virtualbox"}, {"innotek", "virtualbox"}, {"qemu", "qemu"},
		{"kvm", "kvm"}, {"microsoft corporation virtual", "hyper-v"}, {"hyper-v", "hyper-v"}, {"xen", "xen"},
		{"parallels", "parallels"}, {"amazon ec2", "kvm"}, {"google compute engine", "kvm"}, {"bochs", "bochs"},
		{"apple virtualization", "apple-virtualization"}, {"utm", "qemu"},
	} {
		if strings.Contains(dmi, h.needle) {
			return h.name
		}
	}
	if b, err := readFile(filepath.Join(proc, "cpuinfo")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "flags") && strings.Contains(line, " hypervisor") {
				return "vm"
			}
		}
	}
	return "none"
}
