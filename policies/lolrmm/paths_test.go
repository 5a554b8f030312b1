package lolrmm

import (
	"strings"
	"testing"
)

func TestClassifyPathWindows(t *testing.T) {
	sup := supportedOS([]string{"Windows"})
	cases := []struct {
		raw    string
		kind   matchKind
		pat    string // internal pattern ('*' wildcard)
		reason string // substring of the skip reason
	}{
		{raw: `C:\Program Files (x86)\AnyDesk\*`, kind: imageContains, pat: `\Program Files (x86)\AnyDesk\`},
		{raw: `C:\Program Files\TeamViewer\`, kind: imageContains, pat: `\Program Files\TeamViewer\`},
		{raw: `C:\Program Files\Atera Networks`, kind: imageContains, pat: `\Program Files\Atera Networks\`},
		{raw: `anydesk.exe`, kind: imageEndswith, pat: `\anydesk.exe`},
		{raw: `rustdesk*.exe`, kind: imageEndswith, pat: `\rustdesk*.exe`},
		// LOLRMM's generated rule wrote this as `\\C:\*\kitty.exe`, where `\*` is a literal star.
		{raw: `C:\*\kitty.exe`, kind: imageEndswith, pat: `\kitty.exe`},
		{raw: `*\*\ScreenConnect.ClientService.exe`, kind: imageEndswith, pat: `\ScreenConnect.ClientService.exe`},
		{raw: `*\ScreenConnect Client*\*`, kind: imageContains, pat: `\ScreenConnect Client*\`},
		{raw: `C:\Program Files (x86)\ScreenConnect Client (<string ID>)\*`, kind: imageContains, pat: `\Program Files (x86)\ScreenConnect Client (*)\`},
		{raw: `C:\Program Files (x86)\ScreenConnect Client (Random)\ScreenConnect.ClientService.exe`, kind: imageEndswith,
			pat: `\Program Files (x86)\ScreenConnect Client (*)\ScreenConnect.ClientService.exe`},
		{raw: `%APPDATA%\GoToMeeting\G2M.exe`, kind: imageEndswith, pat: `\AppData\Roaming\GoToMeeting\G2M.exe`},
		{raw: `%ProgramData%\Tiflux\*`, kind: imageContains, pat: `\ProgramData\Tiflux\`},
		{raw: `%USERPROFILE%\\AppData\\Local\\Temp\\SupremoRemoteDesktop\\`, kind: imageContains, pat: `\AppData\Local\Temp\SupremoRemoteDesktop\`},
		{raw: `C:\\\\ProgramData\\\\AMMYY\\\\*`, kind: imageContains, pat: `\ProgramData\AMMYY\`},
		{raw: `*\\\\supremoremotedesktop\\\\supremosystem.exe`, kind: imageEndswith, pat: `\supremoremotedesktop\supremosystem.exe`},
		{raw: `C:\Users\USERNAME\AppData\Roaming\Insync\App\Insync.exe`, kind: imageEndswith, pat: `\Users\*\AppData\Roaming\Insync\App\Insync.exe`},
		{raw: `*Users\*\AppData\Roaming\Insync\App\Insync.exe`, kind: imageEndswith, pat: `\Users\*\AppData\Roaming\Insync\App\Insync.exe`},
		{raw: `c:\Program Files (x86)%\mRemoteNG`, kind: imageContains, pat: `\Program Files (x86)\mRemoteNG\`},
		{raw: `wec_launcher_[a-Z0-9]*_.exe`, kind: imageEndswith, pat: `\wec_launcher_*_.exe`},
		{raw: `*\ZOC?\*`, kind: imageContains, pat: `\ZOC?\`},
		{raw: `C:\Program Files\ImmyBot\ImmyAgent.exe`, kind: imageEndswith, pat: `\Program Files\ImmyBot\ImmyAgent.exe`},
		{raw: `C:\Users\*\AppData\Local\remsupp-updater\installer.exe`, kind: imageEndswith, pat: `\Users\*\AppData\Local\remsupp-updater\installer.exe`},
		// Skipped, each with its reason.
		{raw: `setup.exe`, reason: "generic name"},
		{raw: `agent.exe`, reason: "generic name"},
		{raw: `dwm.exe`, reason: "generic name"},
		{raw: `C:\Windows\<random>.exe`, reason: "generic name in a generic folder"},
		{raw: `C:\Users\*\Downloads\setup.exe`, reason: "generic name in a generic folder"},
		{raw: `*\Yandex\*`, reason: "generic folder"},
		{raw: `*\ngrok*`, reason: "wildcard name without extension"},
		{raw: `fleetdeck-agent.msi`, reason: "installer package"},
		{raw: `IDComponent.dll`, reason: "library"},
		{raw: `g2mupdate.com`, reason: "host name"},
		{raw: `can't find this one`, reason: "free text"},
		{raw: `9380CC75B872221A7425D7503565B67580407F60`, reason: "hash"},
		{raw: `teamviewerhost`, reason: "bare name"},
		{raw: `%BOGUS%\x.exe`, reason: "unknown environment variable"},
		{raw: `G2MHost.exee`, reason: "not an executable"},
	}
	for _, c := range cases {
		r := classifyPath(c.raw, sup)
		if c.reason != "" {
			if r.reason == "" || !strings.Contains(r.reason, c.reason) {
				t.Errorf("%q: want skipped (%s), got values %v reason %q", c.raw, c.reason, r.values, r.reason)
			}
			continue
		}
		if r.reason != "" {
			t.Errorf("%q: skipped: %s", c.raw, r.reason)
			continue
		}
		if len(r.values) != 1 || r.values[0].kind != c.kind || r.values[0].pat != c.pat || r.values[0].os != Windows {
			t.Errorf("%q: got %+v, want windows kind %d %q", c.raw, r.values, c.kind, c.pat)
		}
	}
}

func TestClassifyPathPOSIX(t *testing.T) {
	both := supportedOS([]string{"Linux", "MacOS", "Windows"})
	linux := supportedOS([]string{"Linux"})
	cases := []struct {
		raw   string
		sup   osSet
		want  []procValue
		skips string
	}{
		{raw: "/Applications/AnyDesk.app", sup: both, want: []procValue{{MacOS, imageStartswith, "/Applications/AnyDesk.app/"}}},
		{raw: "ARDAgent.app", sup: both, want: []procValue{{MacOS, imageContains, "/ARDAgent.app/"}}},
		{raw: "/opt/dataplicity/*", sup: linux, want: []procValue{{Linux, imageStartswith, "/opt/dataplicity/"}}},
		{raw: "/usr/bin/tmate", sup: both, want: []procValue{{Linux, imageExact, "/usr/bin/tmate"}}},
		{raw: "/usr/local/bin/tmate", sup: both, want: []procValue{{Linux, imageExact, "/usr/local/bin/tmate"}, {MacOS, imageExact, "/usr/local/bin/tmate"}}},
		{raw: "/usr/local/bin/tmate", sup: linux, want: []procValue{{Linux, imageExact, "/usr/local/bin/tmate"}}},
		{raw: "~/Library/Application Support/Tool/agent", sup: both, want: []procValue{{MacOS, imageExact, "/Users/*/Library/Application Support/Tool/agent"}}},
		{raw: "helpwire-operator/bin/helpwire-operator", sup: linux, want: []procValue{{Linux, imageEndswith, "/helpwire-operator/bin/helpwire-operator"}}},
		{raw: "/Applications/ControlR.*.app", sup: both, want: []procValue{{MacOS, imageStartswith, "/Applications/ControlR.*.app/"}}},
		{raw: "/etc/systemd/system/dataplicity.service", sup: linux, skips: "configuration"},
		{raw: "/lib/systemd/system/helpwire-unattended.service", sup: linux, skips: "systemd unit"},
		{raw: "/Library/LaunchDaemons/remotely-agent.plist", sup: both, skips: "property list"},
		{raw: "addigy-*.pkg", sup: both, skips: "installer package"},
		{raw: "/opt/*", sup: linux, skips: "generic folder"},
		{raw: "/usr/local/bin/tsh", sup: linux, skips: "generic name"},
	}
	for _, c := range cases {
		r := classifyPath(c.raw, c.sup)
		if c.skips != "" {
			if !strings.Contains(r.reason, c.skips) {
				t.Errorf("%q: want skipped (%s), got %+v %q", c.raw, c.skips, r.values, r.reason)
			}
			continue
		}
		if r.reason != "" {
			t.Errorf("%q: skipped: %s", c.raw, r.reason)
			continue
		}
		if len(r.values) != len(c.want) {
			t.Errorf("%q: got %+v, want %+v", c.raw, r.values, c.want)
			continue
		}
		for i := range c.want {
			if r.values[i] != c.want[i] {
				t.Errorf("%q: value %d = %+v, want %+v", c.raw, i, r.values[i], c.want[i])
			}
		}
	}
}

func TestClassifyPE(t *testing.T) {
	r := classifyPE(PEMetadata{Filename: "anydesk.exe", OriginalFileName: "AnyDesk.exe", Product: "AnyDesk"})
	if len(r.values) != 2 || r.values[0] != (procValue{Windows, imageEndswith, `\anydesk.exe`}) ||
		r.values[1] != (procValue{Windows, originalName, "AnyDesk.exe"}) || len(r.skips) != 0 {
		t.Errorf("anydesk: %+v", r)
	}
	// A generic name is kept only together with the PE product.
	r = classifyPE(PEMetadata{Filename: "bma.exe", OriginalFileName: "bma.exe", Product: "baramundi Management Suite"})
	if len(r.values) != 0 || len(r.qualified) != 2 || r.qualified[0].product != "baramundi Management Suite" {
		t.Errorf("bma: %+v", r)
	}
	r = classifyPE(PEMetadata{Filename: "agent.exe", Description: "Monitic primary agent binary"})
	if len(r.values)+len(r.qualified) != 0 || len(r.skips) != 1 || !strings.Contains(r.skips[0].reason, "generic") {
		t.Errorf("agent.exe: %+v", r)
	}
	// Teramind's rename target: never a rule on Windows' own dwm.exe.
	r = classifyPE(PEMetadata{Filename: "dwm.exe"})
	if len(r.values)+len(r.qualified) != 0 {
		t.Errorf("dwm.exe became a selection: %+v", r)
	}
	// A library's or installer's entry yields nothing, its OriginalFileName included.
	for _, m := range []PEMetadata{{Filename: "wintun.dll", OriginalFileName: "wintun.dll"}, {Filename: "x.msi", OriginalFileName: "x.exe"},
		{Filename: "netbird", OriginalFileName: "netbird"}} {
		if r := classifyPE(m); len(r.values)+len(r.qualified) != 0 || len(r.skips) != 2 {
			t.Errorf("%+v: %+v", m, r)
		}
	}
	// .NET apphosts carry their dll's name as OriginalFilename.
	r = classifyPE(PEMetadata{Filename: "ControlR.Agent.exe", OriginalFileName: "ControlR.Agent.dll"})
	if len(r.values) != 2 || r.values[1].pat != "ControlR.Agent.dll" {
		t.Errorf("ControlR: %+v", r)
	}
	// A generic OriginalFileName without a product is dropped, the specific Filename kept.
	r = classifyPE(PEMetadata{Filename: "ManageEngine_ServiceDesk_Plus.exe", OriginalFileName: "InstallShield Setup.exe"})
	if len(r.values) != 1 || len(r.skips) != 1 {
		t.Errorf("InstallShield: %+v", r)
	}
}

func TestClassifyHost(t *testing.T) {
	cases := []struct{ raw, host, ip, reason string }{
		{raw: "boot.net.anydesk.com", host: "boot.net.anydesk.com"},
		{raw: "*.anydesk.com", host: "*.anydesk.com"},
		{raw: "relay-[a-f0-9]{8}.net.anydesk.com:443", host: "relay-????????.net.anydesk.com"},
		{raw: "*.GoToMyPC.com", host: "*.gotomypc.com"},
		{raw: "agents*-cloud.acronis.com", host: "agents*-cloud.acronis.com"},
		{raw: "rescue-list.*.logmein-gateway.com", host: "rescue-list.*.logmein-gateway.com"},
		{raw: "https://api.example-rmm.com/v1/agent", host: "api.example-rmm.com"},
		{raw: `relay\d+\.tool\.com`, host: "relay*.tool.com"},
		{raw: "136.243.104.235", ip: "136.243.104.235"},
		{raw: "136.243.104.235:5931", ip: "136.243.104.235"},
		{raw: "pdqinstallers.*.r2.cloudflarestorage.com", host: "pdqinstallers.*.r2.cloudflarestorage.com"},
		{raw: "user_managed", reason: "placeholder"},
		{raw: "<operator-configured GLPI server>", reason: "placeholder"},
		{raw: "192.168.1.10", reason: "private"},
		{raw: "*.com", reason: "top-level"},
		{raw: "github.com", reason: "shared"},
		{raw: "raw.githubusercontent.com", reason: "shared"},
		{raw: "*.amazonaws.com", reason: "shared"},
		{raw: "(a|b).tool.com", reason: "no wildcard equivalent"},
		{raw: "not_a_host", reason: "not a host name"},
	}
	for _, c := range cases {
		r := classifyHost(c.raw)
		switch {
		case c.reason != "":
			if !strings.Contains(r.reason, c.reason) {
				t.Errorf("%q: want skipped (%s), got %+v", c.raw, c.reason, r)
			}
		case r.reason != "":
			t.Errorf("%q: skipped: %s", c.raw, r.reason)
		case r.host != c.host || r.ip != c.ip:
			t.Errorf("%q: got host %q ip %q, want %q %q", c.raw, r.host, r.ip, c.host, c.ip)
		}
	}
}

func TestClassifyPort(t *testing.T) {
	for raw, want := range map[string]int{"21116": 21116, "7070": 7070, "443": 0, "80": 0, "8080": 0, "3389": 0, "1000-65535": 0, "x": 0, "70000": 0} {
		got, reason := classifyPort(raw)
		if got != want || (want == 0) != (reason != "") {
			t.Errorf("%q: got %d %q, want %d", raw, got, reason, want)
		}
	}
}

func TestSigmaValue(t *testing.T) {
	for pat, want := range map[string]string{
		`\anydesk.exe`:                     `\anydesk.exe`,
		`\Users\*\AppData\Local\rustdesk\`: `\Users\\*\AppData\Local\rustdesk\`,
		`\ZOC?\`:                           `\ZOC?\`,
		`\dir\?x.exe`:                      `\dir\\?x.exe`,
		`\\server\share`:                   `\\\server\share`,
		`/usr/bin/tmate`:                   `/usr/bin/tmate`,
		`*.anydesk.com`:                    `*.anydesk.com`,
	} {
		if got := SigmaValue(pat); got != want {
			t.Errorf("SigmaValue(%q) = %q, want %q", pat, got, want)
		}
	}
}

func TestSlugAndURL(t *testing.T) {
	if s := Slug("247ithelp.com (ConnectWise)"); s != "247ithelp_com_connectwise" {
		t.Errorf("slug %q", s)
	}
	if u := ToolURL("Chrome Remote Desktop"); u != "https://lolrmm.io/tools/chrome_remote_desktop" {
		t.Errorf("url %q", u)
	}
	if a, b := RuleID("AnyDesk", Windows, "process"), RuleID(" anydesk ", Windows, "process"); a != b || a == RuleID("AnyDesk", Linux, "process") {
		t.Errorf("ids: %s %s", a, b)
	}
	if v := RuleID("AnyDesk", Windows, "process"); v[14] != '5' {
		t.Errorf("id %s is not a version-5 UUID", v)
	}
}
