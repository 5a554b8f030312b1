package lolrmm

import (
	"regexp"
	"strings"
)

// Sigma logsource products.
const (
	Windows = "windows"
	Linux   = "linux"
	MacOS   = "macos"
)

// matchKind is how a process selection compares Image (or OriginalFileName).
type matchKind int

const (
	imageEndswith   matchKind = iota // Image|endswith (names, Windows full paths)
	imageContains                    // Image|contains (Windows folders, macOS bundles)
	imageExact                       // Image (POSIX full paths)
	imageStartswith                  // Image|startswith (POSIX folders)
	originalName                     // OriginalFileName (Windows PE resource)
)

// procValue is one process selection value. pat is an internal pattern: '*' and '?' are
// wildcards, every other character is literal (the Sigma encoding is done at output).
type procValue struct {
	os   string
	kind matchKind
	pat  string
}

// rewrite notes how a catalog value was changed on its way to Sigma.
type rewrite struct {
	from, to, why string
}

// pathResult is the outcome for one InstallationPaths entry: values, or a skip reason.
type pathResult struct {
	values   []procValue
	rewrites []rewrite
	reason   string // non-empty: skipped
}

var (
	reBackslashes = regexp.MustCompile(`\\{2,}`)
	reSlashes     = regexp.MustCompile(`/{2,}`)
	reEnvVar      = regexp.MustCompile(`%([A-Za-z0-9_()]+)%`)
	rePlaceholder = regexp.MustCompile(`<[^<>]*>`)
	reRandom      = regexp.MustCompile(`(?i)\((?:random|string id|id)\)`)
	reDrive       = regexp.MustCompile(`^[A-Za-z*?]:`)
	reHash        = regexp.MustCompile(`^[0-9A-Fa-f]{32,128}$`)
	reStars       = regexp.MustCompile(`\*{2,}`)
	// A regex character class with an optional quantifier, as in wec_launcher_[a-Z0-9]*_.exe or
	// relay-[a-f0-9]{8}.net.anydesk.com.
	reCharClass = regexp.MustCompile(`\[[^\[\]]*\](\{\d+(?:,\d*)?\}|[*+?])?`)
	reUserDir   = regexp.MustCompile(`(?i)(\\Users\\)([^\\*?]+)(\\|$)`)
)

// envVars maps Windows environment variables to what they expand to, as a fragment that is
// matched with contains/endswith (so the drive and the user's name need not be known).
var envVars = map[string]string{
	"APPDATA":            `\AppData\Roaming`,
	"LOCALAPPDATA":       `\AppData\Local`,
	"USERPROFILE":        `*`,
	"HOMEPATH":           `*`,
	"HOMEDRIVE":          ``,
	"SYSTEMDRIVE":        ``,
	"PROGRAMDATA":        `\ProgramData`,
	"ALLUSERSPROFILE":    `\ProgramData`,
	"PUBLIC":             `\Users\Public`,
	"PROGRAMFILES":       `\Program Files`,
	"PROGRAMW6432":       `\Program Files`,
	"PROGRAMFILES(X86)":  `\Program Files (x86)`,
	"COMMONPROGRAMFILES": `\Program Files\Common Files`,
	"WINDIR":             `\Windows`,
	"SYSTEMROOT":         `\Windows`,
	"TEMP":               `\Temp`,
	"TMP":                `\Temp`,
}

// Windows executables a process Image can have. Scripts (.bat, .cmd, .ps1, .vbs) run under
// their interpreter's image, so they are not process images.
var exeExt = map[string]bool{"exe": true, "scr": true}

var nonImageExt = map[string]string{
	"msi": "installer package (.msi), not a process image", "msp": "installer package (.msp), not a process image",
	"msix": "installer package (.msix), not a process image", "appx": "installer package (.appx), not a process image",
	"pkg": "installer package (.pkg), not a process image", "dmg": "disk image (.dmg), not a process image",
	"dll": "library (.dll), not a process image", "ocx": "library (.ocx), not a process image",
	"sys": "driver (.sys), not a process image", "mui": "resource file (.mui), not a process image",
	"bat": "batch script: runs as cmd.exe, not its own process image",
	"cmd": "batch script: runs as cmd.exe, not its own process image",
	"ps1": "PowerShell script: runs as powershell.exe, not its own process image",
	"vbs": "VBScript: runs as wscript/cscript, not its own process image",
	"sh":  "shell script: runs as the shell, not its own process image",
	"py":  "Python script: runs as python, not its own process image",
	"lnk": "shortcut (.lnk), not a process image", "url": "shortcut (.url), not a process image",
	"com": "looks like a host name, not an executable", "net": "looks like a host name, not an executable",
	"io":      "looks like a host name, not an executable",
	"service": "systemd unit file, not a process image", "plist": "property list, not a process image",
	"conf": "configuration file, not a process image", "cfg": "configuration file, not a process image",
	"ini": "configuration file, not a process image", "json": "data file, not a process image",
	"xml": "data file, not a process image", "yaml": "data file, not a process image",
	"yml": "data file, not a process image", "txt": "text file, not a process image",
	"log": "log file, not a process image", "sock": "socket, not a process image",
	"zip": "archive, not a process image", "tmp": "temporary file, not a process image",
	"bashrc": "shell configuration, not a process image", "db": "database file, not a process image",
	"bin": "installer blob (.bin), not a process image",
}

// genericWords are executable stems (lowercase, letters and digits only) so common that a bare
// name alone would match unrelated software: they need an installation folder or a PE product
// to qualify them.
var genericWords = toSet(`setup setup32 setup64 setupx64 install installer installcore update updater
	autoupdate selfupdater upgrade client agent agentsetup agentinstaller service server svc daemon
	launcher connect remote remoteaccess host helper tray viewer console monitor support supporttool
	app application appcore core main run start startup uninstall uninstaller upload download
	downloader recycler closeapp notificationhelper installshieldsetup manuallauncher
	windowslauncher remoteconsole rdp httpget httppush prep64 cpuchk level goto updateshim
	vncviewer winvnc`)

// systemBinaries are Windows' own programs (and common runtimes): a catalog naming one as a
// tool's file name (Teramind renames itself dwm.exe) must not turn every Windows host into a
// finding.
var systemBinaries = toSet(`dwm.exe svchost.exe explorer.exe csrss.exe lsass.exe services.exe smss.exe
	wininit.exe winlogon.exe taskhost.exe taskhostw.exe sihost.exe conhost.exe dllhost.exe
	rundll32.exe regsvr32.exe msiexec.exe cmd.exe powershell.exe pwsh.exe wscript.exe cscript.exe
	mshta.exe notepad.exe spoolsv.exe searchindexer.exe ctfmon.exe fontdrvhost.exe
	runtimebroker.exe wmiprvse.exe werfault.exe java.exe javaw.exe python.exe node.exe`)

// genericDirs are folder names that say nothing about which software lives below them.
var genericDirs = toSet(`program files|program files (x86)|programdata|windows|system32|syswow64|users|
	public|appdata|local|locallow|roaming|temp|tmp|downloads|desktop|documents|common files|bin|sbin|
	lib|lib64|share|opt|usr|etc|var|home|root|applications|library|application support|
	launchdaemons|launchagents|contents|macos|resources|programs|packages|google|microsoft|apple|
	yandex|mozilla|adobe|oracle|intel|nvidia|dell|hp|lenovo|x86|x64|amd64|win32|win64|private|
	system|volumes|c:`)

func toSet(s string) map[string]bool {
	m := map[string]bool{}
	sep := " \t\n"
	if strings.Contains(s, "|") {
		sep = "|\n"
	}
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(sep, r) }) {
		if w = strings.TrimSpace(w); w != "" {
			m[strings.ToLower(w)] = true
		}
	}
	return m
}

// osSet is the set of products a tool supports, from Details.SupportedOS.
type osSet map[string]bool

func supportedOS(list []string) osSet {
	s := osSet{}
	for _, o := range list {
		switch strings.ToLower(strings.TrimSpace(o)) {
		case "windows":
			s[Windows] = true
		case "linux":
			s[Linux] = true
		case "mac", "macos", "osx", "os x":
			s[MacOS] = true
		}
	}
	return s
}

// extOf is the lowercase extension of a file name without wildcards ("rustdesk*.exe" -> "exe";
// "grabberEM.*msi" -> "msi"), or "".
func extOf(name string) string {
	i := strings.LastIndexByte(name, '.')
	if i < 0 || i == len(name)-1 {
		return ""
	}
	ext := strings.ToLower(strings.Trim(name[i+1:], "*?"))
	for _, c := range ext {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return ""
		}
	}
	if len(ext) > 8 {
		return ""
	}
	return ext
}

// stemLetters is a file name without extension, lowercased, letters and digits only.
func stemLetters(name string) string {
	if e := extOf(name); e != "" {
		name = name[:strings.LastIndexByte(name, '.')]
	}
	var b strings.Builder
	for _, c := range strings.ToLower(name) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// isGenericName reports whether an executable name alone would match unrelated software.
func isGenericName(name string) bool {
	if systemBinaries[strings.ToLower(name)] {
		return true
	}
	l := stemLetters(name)
	return len(l) < 4 || genericWords[l]
}

// hasSpecificDir reports whether some folder of segs says which software it is.
func hasSpecificDir(segs []string) bool {
	for _, s := range segs {
		t := strings.ToLower(strings.TrimSpace(s))
		if strings.Trim(t, "*?") == "" || genericDirs[t] {
			continue
		}
		return true
	}
	return false
}

// isFreeText reports prose such as "can't find this one" or "requires sign up".
func isFreeText(s string) bool {
	if strings.ContainsAny(s, `\/`) {
		return false
	}
	return strings.Contains(strings.TrimSpace(s), " ") && extOf(s) == ""
}

// convertCharClasses rewrites regex character classes into Sigma wildcards: [..]{n} becomes n
// '?', [..] one '?', [..]* / [..]+ / [..]{n,m} a '*'.
func convertCharClasses(s string) string {
	return reCharClass.ReplaceAllStringFunc(s, func(m string) string {
		q := m[strings.LastIndexByte(m, ']')+1:]
		switch {
		case q == "":
			return "?"
		case q == "*" || q == "+" || strings.Contains(q, ","):
			return "*"
		case q == "?":
			return "*"
		default: // {n}
			n := 0
			for _, c := range q[1 : len(q)-1] {
				n = n*10 + int(c-'0')
				if n > 64 {
					return "*"
				}
			}
			if n == 0 {
				return ""
			}
			return strings.Repeat("?", n)
		}
	})
}

// classifyPath turns one InstallationPaths entry into process selection values.
func classifyPath(raw string, sup osSet) pathResult {
	s := strings.TrimSpace(raw)
	switch {
	case s == "":
		return pathResult{reason: "empty"}
	case reHash.MatchString(s):
		return pathResult{reason: "a hash, not a path"}
	case isFreeText(s):
		return pathResult{reason: "free text, not a path"}
	case strings.ContainsRune(s, '\\') || reDrive.MatchString(s) || strings.HasPrefix(s, "%"):
		return windowsPath(s)
	case strings.ContainsRune(s, '/') || strings.HasPrefix(s, "~") || strings.HasSuffix(strings.ToLower(s), ".app"):
		return posixPath(s, sup)
	}
	// A bare name.
	ext := extOf(s)
	if exeExt[ext] {
		return windowsName(s)
	}
	if why, ok := nonImageExt[ext]; ok {
		return pathResult{reason: why}
	}
	if ext != "" {
		return pathResult{reason: "not an executable (extension ." + ext + ")"}
	}
	return pathResult{reason: "bare name without extension or folder: the operating system and binary are unclear"}
}

// windowsName is a bare Windows executable name (from InstallationPaths or PEMetadata).
func windowsName(name string) pathResult {
	var rw []rewrite
	n := convertCharClasses(name)
	if n != name {
		rw = append(rw, rewrite{name, n, "regex character class rewritten as a wildcard"})
	}
	n = reStars.ReplaceAllString(n, "*")
	ext := extOf(n)
	if !exeExt[ext] {
		if why, ok := nonImageExt[ext]; ok {
			return pathResult{reason: why}
		}
		return pathResult{reason: "not an executable (extension ." + ext + ")"}
	}
	if strings.ContainsAny(n, `/:"<>|`) {
		return pathResult{reason: "not a valid Windows file name"}
	}
	if isGenericName(n) {
		return pathResult{reason: "generic name: alone it would match unrelated software"}
	}
	return pathResult{values: []procValue{{os: Windows, kind: imageEndswith, pat: `\` + n}}, rewrites: rw}
}

// windowsPath normalises a Windows path pattern.
func windowsPath(raw string) pathResult {
	var rw []rewrite
	note := func(from, to, why string) {
		if from != to {
			rw = append(rw, rewrite{from, to, why})
		}
	}
	s := raw
	t := reBackslashes.ReplaceAllString(s, `\`)
	note(s, t, "doubled backslashes (a YAML escaping slip) collapsed")
	s = t

	unknown := ""
	t = reEnvVar.ReplaceAllStringFunc(s, func(m string) string {
		name := strings.ToUpper(m[1 : len(m)-1])
		v, ok := envVars[name]
		if !ok {
			unknown = m
			return m
		}
		return v
	})
	if unknown != "" {
		return pathResult{reason: "unknown environment variable " + unknown}
	}
	note(s, t, "environment variable rewritten as the folder it names")
	s = t
	t = strings.ReplaceAll(s, "%", "")
	note(s, t, "stray % removed")
	s = t
	t = rePlaceholder.ReplaceAllString(s, "*")
	t = reRandom.ReplaceAllString(t, "(*)")
	t = reUserDir.ReplaceAllString(t, `${1}*${3}`)
	note(s, t, "placeholder (user name, <random>, <string ID>) rewritten as a wildcard")
	s = t
	t = convertCharClasses(s)
	note(s, t, "regex character class rewritten as a wildcard")
	s = t
	s = reDrive.ReplaceAllString(s, "")
	s = reStars.ReplaceAllString(s, "*")
	if strings.HasPrefix(s, "*") {
		s = strings.TrimLeft(s, "*")
		if !strings.HasPrefix(s, `\`) && s != "" {
			s = `\` + s
		}
	}
	for strings.HasPrefix(s, `\*\`) {
		s = s[2:]
	}
	if strings.ContainsAny(s, `/:"<>|`) {
		return pathResult{reason: "not a valid Windows path after normalising: " + s, rewrites: rw}
	}
	isDir := strings.HasSuffix(s, `\`) || strings.HasSuffix(s, `\*`)
	if isDir {
		s = strings.TrimRight(strings.TrimSuffix(s, `*`), `\`)
	}
	if s == "" {
		return pathResult{reason: "no folder or file name left", rewrites: rw}
	}
	if !strings.Contains(s, `\`) { // a bare name after all (e.g. "*\AteraAgent.exe" had a leading star)
		if isDir {
			return pathResult{reason: "a bare folder name", rewrites: rw}
		}
		r := windowsName(s)
		r.rewrites = append(rw, r.rewrites...)
		return r
	}
	if !strings.HasPrefix(s, `\`) {
		s = `\` + s
	}
	segs := strings.Split(strings.TrimPrefix(s, `\`), `\`)
	last := segs[len(segs)-1]
	ext := extOf(last)
	switch {
	case isDir || ext == "":
		if strings.ContainsAny(last, "*?") && !isDir && len(segs) < 2 {
			return pathResult{reason: "ends in a wildcard name without extension: would match any file or folder starting with it", rewrites: rw}
		}
		if !hasSpecificDir(segs) {
			return pathResult{reason: "generic folder: would match unrelated software", rewrites: rw}
		}
		dir := s
		if isDir || !strings.HasSuffix(last, "*") {
			dir += `\`
		}
		return pathResult{values: []procValue{{os: Windows, kind: imageContains, pat: dir}}, rewrites: rw}
	case exeExt[ext]:
		if isGenericName(last) && !hasSpecificDir(segs[:len(segs)-1]) {
			return pathResult{reason: "generic name in a generic folder: would match unrelated software", rewrites: rw}
		}
		return pathResult{values: []procValue{{os: Windows, kind: imageEndswith, pat: s}}, rewrites: rw}
	default:
		if why, ok := nonImageExt[ext]; ok {
			return pathResult{reason: why, rewrites: rw}
		}
		return pathResult{reason: "not an executable (extension ." + ext + ")", rewrites: rw}
	}
}

// posixPath normalises a Linux or macOS path pattern.
func posixPath(raw string, sup osSet) pathResult {
	var rw []rewrite
	s := reSlashes.ReplaceAllString(raw, "/")
	t := rePlaceholder.ReplaceAllString(s, "*")
	t = convertCharClasses(t)
	if t != s {
		rw = append(rw, rewrite{s, t, "placeholder or regex class rewritten as a wildcard"})
	}
	s = reStars.ReplaceAllString(t, "*")

	var oses []string
	home := strings.HasPrefix(s, "~/") || s == "~"
	lower := strings.ToLower(s)
	isMacPath := func() bool {
		for _, p := range []string{"/applications/", "/library/", "/system/", "/users/", "/private/", "/volumes/", "~/library/"} {
			if strings.HasPrefix(lower+"/", p) || strings.HasPrefix(lower, p) {
				return true
			}
		}
		return strings.Contains(lower, ".app/") || strings.HasSuffix(lower, ".app")
	}
	isLinuxPath := func() bool {
		for _, p := range []string{"/opt/", "/etc/", "/lib/", "/lib64/", "/usr/lib/", "/usr/share/", "/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/", "/snap/", "/var/", "/home/", "/root/", "/usr/0x"} {
			if strings.HasPrefix(lower, p) {
				return true
			}
		}
		return false
	}
	switch {
	case isMacPath():
		oses = []string{MacOS}
	case isLinuxPath():
		oses = []string{Linux}
	default: // /usr/local/..., ~/..., relative: whichever POSIX systems the tool supports
		if sup[Linux] || !sup[MacOS] {
			oses = append(oses, Linux)
		}
		if sup[MacOS] {
			oses = append(oses, MacOS)
		}
	}
	if strings.HasPrefix(lower, "/etc/") || strings.HasPrefix(lower, "/var/log/") {
		return pathResult{reason: "configuration or log location, not a process image", rewrites: rw}
	}
	isDir := strings.HasSuffix(s, "/") || strings.HasSuffix(s, "/*")
	if isDir {
		s = strings.TrimRight(strings.TrimSuffix(s, "*"), "/")
	}
	if s == "" || s == "~" {
		return pathResult{reason: "no folder or file name left", rewrites: rw}
	}
	segs := strings.Split(strings.Trim(s, "/"), "/")
	last := segs[len(segs)-1]
	ext := extOf(last)
	bundle := ext == "app"
	if !isDir && !bundle && ext != "" {
		if why, ok := nonImageExt[ext]; ok {
			return pathResult{reason: why, rewrites: rw}
		}
		if exeExt[ext] {
			return pathResult{reason: "a Windows executable name in a POSIX path", rewrites: rw}
		}
		// Dotted names such as ControlR.* or org.tool.agent are kept as names.
	}
	if isDir || bundle {
		if !hasSpecificDir(segs) {
			return pathResult{reason: "generic folder: would match unrelated software", rewrites: rw}
		}
	} else if len(segs) == 1 && !strings.HasPrefix(s, "/") && !home {
		return pathResult{reason: "bare name without extension or folder: the operating system and binary are unclear", rewrites: rw}
	} else if isGenericName(last+".x") && !hasSpecificDir(segs[:len(segs)-1]) {
		return pathResult{reason: "generic name in a generic folder: would match unrelated software", rewrites: rw}
	}

	var vals []procValue
	for _, o := range oses {
		p := s
		if home {
			hd := "/home/*"
			if o == MacOS {
				hd = "/Users/*"
			}
			p = hd + strings.TrimPrefix(p, "~")
		}
		var v procValue
		switch {
		case bundle && !strings.HasPrefix(p, "/"):
			v = procValue{os: o, kind: imageContains, pat: "/" + p + "/"}
		case bundle || isDir:
			if strings.HasPrefix(p, "/") {
				v = procValue{os: o, kind: imageStartswith, pat: p + "/"}
			} else {
				v = procValue{os: o, kind: imageContains, pat: "/" + p + "/"}
			}
		case strings.HasPrefix(p, "/"):
			v = procValue{os: o, kind: imageExact, pat: p}
		default:
			v = procValue{os: o, kind: imageEndswith, pat: "/" + p}
		}
		vals = append(vals, v)
	}
	return pathResult{values: vals, rewrites: rw}
}

// peResult is the outcome for one PEMetadata entry.
type peResult struct {
	values    []procValue
	qualified []qualified // generic names made specific by the PE product string
	rewrites  []rewrite
	skips     []peSkip
}

type peSkip struct{ value, reason string }

// qualified is a generic name (Image endswith or OriginalFileName) that is specific together
// with the binary's PE product string.
type qualified struct {
	kind    matchKind
	pat     string
	product string
}

// usableProduct reports whether a PE product string can qualify a generic name.
func usableProduct(p string) bool {
	return len(p) >= 4 && len(p) <= 64 && !strings.ContainsAny(p, "()*?\\") && !isGenericName(p+".x") &&
		len(strings.Fields(p)) <= 5
}

// classifyPE turns one PEMetadata entry into Windows selections: Filename as Image|endswith,
// OriginalFileName as OriginalFileName. A generic name is kept only with the PE product.
func classifyPE(m PEMetadata) peResult {
	var r peResult
	if fe := extOf(m.Filename); m.Filename != "" && !exeExt[fe] {
		why, ok := nonImageExt[fe]
		switch {
		case ok:
		case fe == "":
			why = "bare name without extension: not a Windows PE name (and the OS is unclear)"
		default:
			why = "not an executable (extension ." + fe + ")"
		}
		r.skips = append(r.skips, peSkip{m.Filename, why})
		// The entry describes a library, an installer or a non-Windows binary: its
		// OriginalFileName is that file's, not a process's.
		if m.OriginalFileName != "" {
			r.skips = append(r.skips, peSkip{m.OriginalFileName, "original name of a file that is not a Windows process image (" + m.Filename + ")"})
		}
		return r
	}
	product := ""
	if usableProduct(m.Product) {
		product = m.Product
	}
	if m.Filename != "" && exeExt[extOf(m.Filename)] {
		if strings.ContainsAny(m.Filename, `\/`) {
			pr := windowsPath(m.Filename)
			r.values, r.rewrites = append(r.values, pr.values...), append(r.rewrites, pr.rewrites...)
			if pr.reason != "" {
				r.skips = append(r.skips, peSkip{m.Filename, pr.reason})
			}
		} else {
			pr := windowsName(m.Filename)
			r.rewrites = append(r.rewrites, pr.rewrites...)
			switch {
			case pr.reason == "":
				r.values = append(r.values, pr.values...)
			case strings.HasPrefix(pr.reason, "generic name") && product != "":
				r.qualified = append(r.qualified, qualified{kind: imageEndswith, pat: `\` + convertCharClasses(m.Filename), product: product})
			default:
				reason := pr.reason
				if strings.HasPrefix(reason, "generic name") {
					reason = "generic name and no PE product to qualify it"
				}
				r.skips = append(r.skips, peSkip{m.Filename, reason})
			}
		}
	}
	if o := m.OriginalFileName; o != "" {
		oe := extOf(o)
		switch {
		case strings.ContainsAny(o, `\/:"<>|`):
			r.skips = append(r.skips, peSkip{o, "not a file name"})
		case isFreeText(o):
			r.skips = append(r.skips, peSkip{o, "free text, not a file name"})
		case oe != "" && !exeExt[oe] && oe != "dll":
			// .NET apphosts carry their .dll's name as OriginalFilename, so .dll is kept.
			r.skips = append(r.skips, peSkip{o, "not an executable's original name (extension ." + oe + ")"})
		case isGenericName(o) && product != "":
			r.qualified = append(r.qualified, qualified{kind: originalName, pat: o, product: product})
		case isGenericName(o):
			r.skips = append(r.skips, peSkip{o, "generic original file name and no PE product to qualify it"})
		default:
			r.values = append(r.values, procValue{os: Windows, kind: originalName, pat: o})
		}
	}
	return r
}
