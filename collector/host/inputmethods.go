package host

import (
	"path/filepath"
	"regexp"
	"strings"
)

// Input methods from the frameworks' per-user files.
var (
	// GNOME input sources in dconf keyfiles (etc/dconf/db/*.d/*): sources=[('xkb','us'),('ibus','hangul')]
	dconfSource = regexp.MustCompile(`\(\s*'(xkb|ibus)'\s*,\s*'([^']+)'\s*\)`)
	// The same in the binary dconf user database: GVariant (ss) tuples are NUL-terminated strings.
	dconfBinary = regexp.MustCompile(`(xkb|ibus)\x00([A-Za-z0-9_:+.\-/]{1,64})\x00`)
	// ibus preload-engines in keyfiles: preload-engines=['hangul', 'anthy']
	ibusPreload = regexp.MustCompile(`preload-engines\s*=\s*\[([^\]]*)\]`)
)

// InputConfig is what a user's input-method configuration enables.
type InputConfig struct {
	Layouts      []string // xkb layouts
	InputMethods []string // ibus engines, fcitx input methods
}

// ParseFcitx5Profile reads ~/.config/fcitx5/profile: [Groups/N/Items/M] sections with Name=.
// "keyboard-us" items are layouts; the rest (hangul, mozc, pinyin...) input methods.
func ParseFcitx5Profile(b []byte) InputConfig {
	var ic InputConfig
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line
			continue
		}
		if !strings.Contains(section, "/Items/") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == "Name" {
			ic.add(strings.TrimSpace(v))
		}
	}
	return ic
}

// ParseFcitx4Profile reads ~/.config/fcitx/profile: EnabledIMList=fcitx-keyboard-us:True,hangul:True,mozc:False
func ParseFcitx4Profile(b []byte) InputConfig {
	var ic InputConfig
	kv := ParseKeyValues(b)
	for _, item := range strings.Split(kv["EnabledIMList"], ",") {
		name, on, _ := strings.Cut(strings.TrimSpace(item), ":")
		if name == "" || !strings.EqualFold(on, "True") {
			continue
		}
		ic.add(strings.TrimPrefix(name, "fcitx-"))
	}
	return ic
}

func (ic *InputConfig) add(name string) {
	switch {
	case name == "":
	case strings.HasPrefix(name, "keyboard-"):
		ic.Layouts = append(ic.Layouts, strings.TrimPrefix(name, "keyboard-"))
	default:
		ic.InputMethods = append(ic.InputMethods, name)
	}
}

// ParseDconf finds GNOME input sources and ibus engines in a dconf keyfile (text) or a binary
// dconf database (~/.config/dconf/user), whose GVariant strings are NUL-terminated.
func ParseDconf(b []byte) InputConfig {
	var ic InputConfig
	take := func(kind, name string) {
		if kind == "xkb" {
			ic.Layouts = append(ic.Layouts, name)
		} else {
			ic.InputMethods = append(ic.InputMethods, name)
		}
	}
	for _, m := range dconfSource.FindAllSubmatch(b, -1) {
		take(string(m[1]), string(m[2]))
	}
	for _, m := range dconfBinary.FindAllSubmatch(b, -1) {
		take(string(m[1]), string(m[2]))
	}
	for _, m := range ibusPreload.FindAllSubmatch(b, -1) {
		for _, e := range strings.Split(string(m[1]), ",") {
			if e = strings.Trim(strings.TrimSpace(e), `'"`); e != "" {
				ic.InputMethods = append(ic.InputMethods, e)
			}
		}
	}
	return ic
}

// InputConfigFromHomes reads each home's fcitx5, fcitx4 and dconf files and the system dconf
// keyfiles under etc/dconf/db. Unreadable files are skipped.
func InputConfigFromHomes(etc string, homes []string) InputConfig {
	var all InputConfig
	merge := func(ic InputConfig) {
		all.Layouts = append(all.Layouts, ic.Layouts...)
		all.InputMethods = append(all.InputMethods, ic.InputMethods...)
	}
	for _, h := range homes {
		if b, err := readFile(filepath.Join(h, ".config", "fcitx5", "profile")); err == nil {
			merge(ParseFcitx5Profile(b))
		}
		if b, err := readFile(filepath.Join(h, ".config", "fcitx", "profile")); err == nil {
			merge(ParseFcitx4Profile(b))
		}
		if b, err := readFile(filepath.Join(h, ".config", "dconf", "user")); err == nil {
			merge(ParseDconf(b))
		}
	}
	keyfiles, _ := filepath.Glob(filepath.Join(etc, "dconf", "db", "*.d", "*"))
	for _, k := range keyfiles {
		if b, err := readFile(k); err == nil {
			merge(ParseDconf(b))
		}
	}
	return all
}
