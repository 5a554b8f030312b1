package usb

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
)

// maxAttrBytes bounds one sysfs attribute read; real ones are far smaller.
const maxAttrBytes = 4096

// ReadSysfs lists the USB devices under root/bus/usb/devices (root stands for /sys). Root hubs
// (usb1, usb2...) are devices and are listed; interface folders (1-1:1.0) are read as their
// device's Interfaces, not as devices.
func ReadSysfs(root string) ([]Device, error) {
	return newSysfsReader(root, hclog.NewNullLogger()).List()
}

// sysfsReader lists devices, re-reading a device's attributes only when it is new at its
// location (its devnum changed), so a poll costs one directory listing and one small read per
// device.
type sysfsReader struct {
	dir string
	log hclog.Logger

	mu    sync.Mutex
	cache map[string]Device // sysfs name -> device (token is its devnum)
}

func newSysfsReader(root string, log hclog.Logger) *sysfsReader {
	return &sysfsReader{dir: filepath.Join(root, "bus", "usb", "devices"), log: log, cache: map[string]Device{}}
}

func (r *sysfsReader) List() ([]Device, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ents, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", r.dir, err)
	}
	out := make([]Device, 0, len(ents))
	seen := make(map[string]bool, len(ents))
	for _, e := range ents {
		name := e.Name()
		if !isDeviceName(name) {
			continue
		}
		dir := filepath.Join(r.dir, name)
		devnum, _ := readAttr(dir, "devnum")
		if c, ok := r.cache[name]; ok && c.token == devnum && devnum != "" {
			out = append(out, c)
			seen[name] = true
			continue
		}
		d, err := readSysfsDevice(dir, name)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // unplugged while we read it
			}
			r.log.Debug("skipping USB sysfs entry", "path", dir, "error", err)
			continue
		}
		d.token = devnum
		if !d.incomplete {
			r.cache[name] = d
		}
		seen[name] = true
		out = append(out, d)
	}
	for name := range r.cache {
		if !seen[name] {
			delete(r.cache, name)
		}
	}
	sortDevices(out)
	return out, nil
}

// isDeviceName tells device folders (1-1, 1-1.4.2, usb3) from interface folders (1-1:1.0).
func isDeviceName(name string) bool {
	if strings.HasPrefix(name, "usb") {
		_, err := strconv.Atoi(name[3:])
		return err == nil
	}
	if name == "" || strings.ContainsRune(name, ':') {
		return false
	}
	for _, c := range name {
		if (c < '0' || c > '9') && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func readSysfsDevice(dir, name string) (Device, error) {
	d := Device{Location: name}
	vid, err := readAttr(dir, "idVendor")
	if err != nil {
		return d, err
	}
	pid, err := readAttr(dir, "idProduct")
	if err != nil {
		return d, err
	}
	if d.VendorID, err = hexField(vid, 4); err != nil {
		return d, fmt.Errorf("%s/idVendor: %w", dir, err)
	}
	if d.ProductID, err = hexField(pid, 4); err != nil {
		return d, fmt.Errorf("%s/idProduct: %w", dir, err)
	}
	d.Manufacturer, _ = readAttr(dir, "manufacturer")
	d.Product, _ = readAttr(dir, "product")
	d.Serial, _ = readAttr(dir, "serial")
	d.Configuration, _ = readAttr(dir, "configuration")
	if c, err := readAttr(dir, "bDeviceClass"); err == nil {
		d.DeviceClass, _ = hexField(c, 2)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return d, err
	}
	prefix := name + ":"
	if strings.HasPrefix(name, "usb") {
		prefix = name[3:] + "-0:" // a root hub's interface is 1-0:1.0 under usb1
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		it, err := readSysfsInterface(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		d.Interfaces = append(d.Interfaces, it)
	}
	sort.Slice(d.Interfaces, func(i, j int) bool { return d.Interfaces[i].Number < d.Interfaces[j].Number })
	// A configured device declares its interface count; fewer folders means the kernel is
	// still creating them.
	if cfg, _ := readAttr(dir, "bConfigurationValue"); cfg != "" {
		if n, err := readAttr(dir, "bNumInterfaces"); err == nil {
			if want, err := strconv.Atoi(n); err == nil && len(d.Interfaces) < want {
				d.incomplete = true
			}
		}
	}
	return d, nil
}

func readSysfsInterface(dir string) (Interface, error) {
	var it Interface
	var vals [4]uint64
	for i, a := range []string{"bInterfaceNumber", "bInterfaceClass", "bInterfaceSubClass", "bInterfaceProtocol"} {
		s, err := readAttr(dir, a)
		if err != nil {
			return it, err
		}
		v, err := strconv.ParseUint(s, 16, 8)
		if err != nil {
			return it, fmt.Errorf("%s/%s: %q is not a hex byte", dir, a, s)
		}
		vals[i] = v
	}
	it.Number = int(vals[0])
	it.Class, it.SubClass, it.Protocol = uint8(vals[1]), uint8(vals[2]), uint8(vals[3])
	return it, nil
}

// readAttr reads one small sysfs attribute, trimmed, as valid UTF-8.
func readAttr(dir, name string) (string, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxAttrBytes))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", filepath.Join(dir, name), err)
	}
	s := strings.TrimSpace(string(b))
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s, nil
}

// hexField normalises a hex number to width lowercase digits.
func hexField(s string, width int) (string, error) {
	s = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "0x")
	if s == "" || len(s) > width {
		return "", fmt.Errorf("%q is not a %d-digit hex number", s, width)
	}
	if _, err := strconv.ParseUint(s, 16, 64); err != nil {
		return "", fmt.Errorf("%q is not a hex number", s)
	}
	return strings.Repeat("0", width-len(s)) + s, nil
}
