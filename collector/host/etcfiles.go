package host

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Readers of Linux's /etc files (time zone, keyboard, locale, os-release). Like the readers of
// home-folder input-method files (inputmethods.go), /proc/net (procnet.go), /sys and container
// markers (sysfiles.go) and utmp (utmp.go), they take a file's bytes or a root folder, so fixture
// trees are read the same way on every OS.

// maxFile caps what is read of one configuration file.
const maxFile = 1 << 20

func readFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return b, nil
}

// ParseKeyValues reads shell-style KEY=value lines (os-release, /etc/default/keyboard,
// locale.conf, vconsole.conf), unquoting values and skipping comments.
func ParseKeyValues(b []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), maxFile)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out[strings.TrimSpace(k)] = v
	}
	return out
}

// splitList splits "us,kr" or "us kr" into its non-empty items.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// TimezoneFromEtc returns the IANA zone from etc/timezone, or from the etc/localtime symlink's
// target (".../zoneinfo/Asia/Seoul"), as Linux and macOS keep it.
func TimezoneFromEtc(etc string) string {
	if b, err := readFile(filepath.Join(etc, "timezone")); err == nil {
		if tz := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]); tz != "" {
			return tz
		}
	}
	if target, err := os.Readlink(filepath.Join(etc, "localtime")); err == nil {
		return zoneFromPath(target)
	}
	return ""
}

func zoneFromPath(target string) string {
	target = filepath.ToSlash(target)
	if i := strings.Index(target, "zoneinfo/"); i >= 0 {
		z := target[i+len("zoneinfo/"):]
		for _, p := range []string{"posix/", "right/"} {
			z = strings.TrimPrefix(z, p)
		}
		return z
	}
	return ""
}

// xorgLayout matches Option "XkbLayout" "us,kr" in xorg.conf.d files written by localectl.
var xorgLayout = regexp.MustCompile(`(?i)Option\s+"XkbLayout"\s+"([^"]*)"`)

// KeyboardLayoutsFromEtc reads etc/default/keyboard (XKBLAYOUT), etc/X11/xorg.conf.d/*.conf
// (XkbLayout, written by localectl) and etc/vconsole.conf (KEYMAP).
func KeyboardLayoutsFromEtc(etc string) []string {
	var out []string
	if b, err := readFile(filepath.Join(etc, "default", "keyboard")); err == nil {
		out = append(out, splitList(ParseKeyValues(b)["XKBLAYOUT"])...)
	}
	confs, _ := filepath.Glob(filepath.Join(etc, "X11", "xorg.conf.d", "*.conf"))
	for _, c := range confs {
		if b, err := readFile(c); err == nil {
			for _, m := range xorgLayout.FindAllSubmatch(b, -1) {
				out = append(out, splitList(string(m[1]))...)
			}
		}
	}
	if b, err := readFile(filepath.Join(etc, "vconsole.conf")); err == nil {
		if km := ParseKeyValues(b)["KEYMAP"]; km != "" {
			out = append(out, km)
		}
	}
	return out
}

// LocaleFromEtc reads LANG from etc/default/locale or etc/locale.conf.
func LocaleFromEtc(etc string) string {
	for _, f := range []string{"locale.conf", filepath.Join("default", "locale")} {
		if b, err := readFile(filepath.Join(etc, f)); err == nil {
			kv := ParseKeyValues(b)
			for _, k := range []string{"LANG", "LC_ALL"} {
				if kv[k] != "" {
					return kv[k]
				}
			}
		}
	}
	return ""
}

// OSVersion returns os-release's PRETTY_NAME (or NAME VERSION_ID) from etc/os-release or,
// when that is missing, from root/usr/lib/os-release (its usual target). The fallback is read
// only when etc is root's own etc folder: with an etc root of its own, nothing is read outside
// it (the live /usr/lib/os-release would describe another system).
func OSVersion(root, etc string) string {
	files := []string{filepath.Join(etc, "os-release")}
	if filepath.Clean(etc) == filepath.Join(root, "etc") {
		files = append(files, filepath.Join(root, "usr", "lib", "os-release"))
	}
	for _, f := range files {
		b, err := readFile(f)
		if err != nil {
			continue
		}
		kv := ParseKeyValues(b)
		if kv["PRETTY_NAME"] != "" {
			return kv["PRETTY_NAME"]
		}
		return strings.TrimSpace(kv["NAME"] + " " + kv["VERSION_ID"])
	}
	return ""
}
