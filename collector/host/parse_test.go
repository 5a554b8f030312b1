package host

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"
	"unicode/utf16"

	"howett.net/plist"
)

// Sample outputs written from each tool's documented format.

const sampleReg = `Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName]
"ComputerName"="DESKTOP-7Q2K"

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion]
"ProductName"="Windows 10 Pro"
"DisplayVersion"="23H2"
"CurrentBuild"="22631"
"InstallDate"=dword:65a1b2c3

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\TimeZoneInformation]
"Bias"=dword:fffffde4
"TimeZoneKeyName"="Korea Standard Time"

[HKEY_USERS\S-1-5-21-1004336348-1177238915-682003330-1001\Keyboard Layout\Preload]
"2"="00000412"
"1"="00000409"

[HKEY_USERS\S-1-5-21-1004336348-1177238915-682003330-1001\Control Panel\International]
"LocaleName"="ko-KR"
"sShortDate"="yyyy-MM-dd"

[HKEY_USERS\S-1-5-21-1004336348-1177238915-682003330-1001\Control Panel\International\User Profile]
"Languages"=hex(7):6b,00,6f,00,2d,00,4b,00,52,00,00,00,65,00,6e,00,2d,00,55,00,\
  53,00,00,00,00,00
"ShowAutoCorrection"=dword:00000001

[HKEY_USERS\S-1-5-21-1004336348-1177238915-682003330-1001\Control Panel\International\User Profile\ko-KR]
"0412:{A028AE76-01B1-46C2-99C4-ACD9858AE02F}{B5FE1F02-D5F2-4445-9C03-C568F23C99A1}"=dword:00000001
"CachedLanguageName"="@Winlangdb.dll,-1166"

[HKEY_USERS\S-1-5-21-1004336348-1177238915-682003330-1001_Classes]
`

func utf16LE(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := []byte{0xFF, 0xFE}
	for _, c := range u {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return b
}

func TestNormalizeMac(t *testing.T) {
	for in, want := range map[string]string{
		"0:11:2:33:a:FF": "00:11:02:33:0a:ff", "00-1A-2B-3C-4D-5E": "00:1a:2b:3c:4d:5e", "AA:BB:CC:DD:EE:FF": "aa:bb:cc:dd:ee:ff",
		"(incomplete)": "(incomplete)", "1:2:3": "1:2:3", "zz:11:22:33:44:55": "zz:11:22:33:44:55",
	} {
		if got := NormalizeMac(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
	if usableMac("ff:ff:ff:ff:ff:ff") || usableMac("01:00:5e:00:00:fb") || !usableMac("30:52:53:01:02:03") {
		t.Error("usableMac")
	}
}

func TestParseNmcli(t *testing.T) {
	w, err := ParseNmcliWifi([]byte("no:Cafe:11\\:22\\:33\\:44\\:55\\:66:wlan0\nyes:Home\\\\Net:AA\\:BB\\:CC\\:DD\\:EE\\:01:wlp2s0\n"))
	if err != nil || w != (Wifi{Ssid: `Home\Net`, Bssid: "aa:bb:cc:dd:ee:01", Interface: "wlp2s0"}) {
		t.Fatalf("%+v %v", w, err)
	}
	if _, err := ParseNmcliWifi([]byte("garbage\n")); err == nil {
		t.Error("garbage accepted")
	}
}

func TestParseIw(t *testing.T) {
	out := "Connected to 64:d1:54:aa:bb:cc (on wlp3s0)\n\tSSID: OfficeWifi\n\tfreq: 5180\n\tRX: 1234 bytes (10 packets)\n\tsignal: -48 dBm\n"
	if w := ParseIwLink([]byte(out)); w != (Wifi{Ssid: "OfficeWifi", Bssid: "64:d1:54:aa:bb:cc", Interface: "wlp3s0"}) {
		t.Fatalf("%+v", w)
	}
	if w := ParseIwLink([]byte("Not connected.\n")); w != (Wifi{}) {
		t.Fatalf("%+v", w)
	}
	wl := "Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE\n face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22\n wlp3s0: 0000   57.  -53.  -256        0      0      0      0     12        0\n"
	if got := ParseProcNetWireless([]byte(wl)); !reflect.DeepEqual(got, []string{"wlp3s0"}) {
		t.Fatalf("%v", got)
	}
}

func TestParseNeighbourTables(t *testing.T) {
	bsd := "? (192.168.1.1) at 0:11:22:33:44:55 on en0 ifscope [ethernet]\n" +
		"? (192.168.1.7) at (incomplete) on en0 ifscope [ethernet]\n" +
		"? (192.168.1.20) at 30:52:53:a:b:c on en0 ifscope permanent [ethernet]\n" +
		"? (224.0.0.251) at 1:0:5e:0:0:fb on en0 ifscope permanent [ethernet]\n"
	want := []Neighbor{
		{Ip: "192.168.1.1", Mac: "00:11:22:33:44:55", Interface: "en0", State: "reachable"},
		{Ip: "192.168.1.20", Mac: "30:52:53:0a:0b:0c", Interface: "en0", State: "permanent"},
		{Ip: "224.0.0.251", Mac: "01:00:5e:00:00:fb", Interface: "en0", State: "permanent"},
	}
	if got := ParseBSDArp([]byte(bsd)); !reflect.DeepEqual(got, want) {
		t.Errorf("arp -an: %+v", got)
	}
	win := "\r\nInterface: 192.168.1.10 --- 0xb\r\n  Internet Address      Physical Address      Type\r\n" +
		"  192.168.1.1           a4-2b-b0-11-22-33     dynamic   \r\n  192.168.1.255         ff-ff-ff-ff-ff-ff     static    \r\n"
	wantWin := []Neighbor{{Ip: "192.168.1.1", Mac: "a4:2b:b0:11:22:33", Interface: "192.168.1.10", State: "dynamic"},
		{Ip: "192.168.1.255", Mac: "ff:ff:ff:ff:ff:ff", Interface: "192.168.1.10", State: "static"}}
	if got := ParseWindowsArp([]byte(win)); !reflect.DeepEqual(got, wantWin) {
		t.Errorf("arp -a: %+v", got)
	}
	ipn := "fe80::1 dev eth0 lladdr 52:54:00:12:34:56 router REACHABLE\nfd00::1 dev eth0 FAILED\n2001:db8::5 dev wlan0 lladdr 94:83:c4:00:00:01 STALE\n"
	wantIP := []Neighbor{{Ip: "fe80::1", Mac: "52:54:00:12:34:56", Interface: "eth0", State: "reachable"},
		{Ip: "2001:db8::5", Mac: "94:83:c4:00:00:01", Interface: "wlan0", State: "stale"}}
	if got := ParseIPNeigh([]byte(ipn)); !reflect.DeepEqual(got, wantIP) {
		t.Errorf("ip neigh: %+v", got)
	}
	arp := "IP address       HW type     Flags       HW address            Mask     Device\n192.0.2.1        0x1         0x6         02:fc:00:00:00:05     *        eth0\n"
	if got, err := ParseProcNetArp([]byte(arp)); err != nil || got[0].State != "permanent" {
		t.Errorf("proc arp: %+v %v", got, err)
	}
	if _, err := ParseProcNetArp([]byte("h\n1.2.3.4 0x1 0xZZ aa *  eth0\n")); err == nil {
		t.Error("bad flags accepted")
	}
}

func TestParseMacOSOutputs(t *testing.T) {
	route := "   route to: default\ndestination: default\n       mask: default\n    gateway: 192.168.1.1\n  interface: en0\n      flags: <UP,GATEWAY,DONE,STATIC,PRCLONING,GLOBAL>\n recvpipe  sendpipe  ssthresh  rtt,msec    rttvar  hopcount      mtu     expire\n       0         0         0         0         0         0      1500         0\n"
	if gw, ifc := ParseRouteGetDefault([]byte(route)); gw != "192.168.1.1" || ifc != "en0" {
		t.Errorf("route: %q %q", gw, ifc)
	}
	summary := "<dictionary> {\n  BSSID : a4:2b:b0:1:2:3\n  IPv4 : <array> {\n    0 : <dictionary> {\n      Addresses : <array> {\n        0 : 192.168.1.23\n      }\n    }\n  }\n  InterfaceType : WiFi\n  LinkStatusActive : TRUE\n  SSID : Farm Net\n  Security : WPA2_PSK\n}\n"
	if w := ParseIPConfigSummary([]byte(summary)); w.Ssid != "Farm Net" || w.Bssid != "a4:2b:b0:01:02:03" {
		t.Errorf("ipconfig: %+v", w)
	}
	if w := ParseIPConfigSummary([]byte("  SSID : <redacted>\n")); w.Ssid != "" {
		t.Errorf("redacted: %+v", w)
	}
	sp := `Wi-Fi:

      Software Versions:
          CoreWLAN: 16.0 (1657)
      Interfaces:
        en0:
          Card Type: Wi-Fi  (0x14E4, 0x4378)
          Firmware Version: wl0: Oct  3 2024
          MAC Address: 3c:22:fb:aa:bb:cc
          Status: Connected
          Current Network Information:
            CorpWiFi:
              PHY Mode: 802.11ax
              Channel: 36 (5GHz, 80MHz)
              Country Code: US
              Network Type: Infrastructure
              Security: WPA2 Personal
          Other Local Wi-Fi Networks:
            Neighbour:
              PHY Mode: 802.11n
`
	if w := ParseSystemProfilerAirport([]byte(sp)); w.Ssid != "CorpWiFi" || w.Interface != "en0" {
		t.Errorf("system_profiler: %+v", w)
	}
	ports := "\nHardware Port: Ethernet\nDevice: en0\nEthernet Address: 3c:22:fb:00:00:01\n\nHardware Port: Wi-Fi\nDevice: en1\nEthernet Address: 3c:22:fb:00:00:02\n\nVLAN Configurations\n===================\n"
	if d := ParseHardwarePorts([]byte(ports)); d != "en1" {
		t.Errorf("hardware ports: %q", d)
	}
	if v := ParseSwVers([]byte("ProductName:\t\tmacOS\nProductVersion:\t\t15.1\nBuildVersion:\t\t24B83\n")); v != "macOS 15.1 (24B83)" {
		t.Errorf("sw_vers: %q", v)
	}
}

// defaultsHIToolbox is `defaults read com.apple.HIToolbox` output (OpenStep property list text).
const defaultsHIToolbox = `{
    AppleCurrentKeyboardLayoutInputSourceID = "com.apple.keylayout.ABC";
    AppleEnabledInputSources =     (
                {
            InputSourceKind = "Keyboard Layout";
            "KeyboardLayout ID" = 252;
            "KeyboardLayout Name" = ABC;
        },
                {
            "Bundle ID" = "com.apple.inputmethod.Korean";
            "Input Mode" = "com.apple.inputmethod.Korean.2SetKorean";
            InputSourceKind = "Input Mode";
        },
                {
            "Bundle ID" = "com.apple.inputmethod.Korean";
            InputSourceKind = "Keyboard Input Method";
        },
                {
            "Bundle ID" = "com.apple.CharacterPaletteIM";
            InputSourceKind = "Non Keyboard Input Method";
        }
    );
}
`

func TestParseHIToolbox(t *testing.T) {
	want := InputConfig{Layouts: []string{"ABC"}, InputMethods: []string{"com.apple.inputmethod.Korean.2SetKorean", "com.apple.inputmethod.Korean"}}
	got, err := ParseHIToolbox([]byte(defaultsHIToolbox))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("defaults output: %+v %v", got, err)
	}
	// The same as a binary plist file, as ~/Library/Preferences holds it.
	var doc any
	if _, err := plist.Unmarshal([]byte(defaultsHIToolbox), &doc); err != nil {
		t.Fatal(err)
	}
	var bin bytes.Buffer
	if err := plist.NewEncoderForFormat(&bin, plist.BinaryFormat).Encode(doc); err != nil {
		t.Fatal(err)
	}
	got, err = ParseHIToolbox(bin.Bytes())
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("binary plist: %+v %v", got, err)
	}
	xml := `<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict><key>AppleLocale</key><string>ko_KR</string></dict></plist>`
	if loc, err := ParseGlobalPreferences([]byte(xml)); err != nil || loc != "ko_KR" {
		t.Errorf("locale %q %v", loc, err)
	}
	if _, err := ParseHIToolbox([]byte("{ not a plist")); err == nil {
		t.Error("bad plist accepted")
	}
}

func TestParseNetsh(t *testing.T) {
	out := "\r\nThere is 1 interface on the system:\r\n\r\n    Name                   : Wi-Fi\r\n    Description            : Intel(R) Wi-Fi 6 AX201 160MHz\r\n    GUID                   : 5e2e0c1d-1111-2222-3333-444455556666\r\n    Physical address       : 3c:22:fb:aa:bb:cc\r\n    Interface type         : Primary\r\n    State                  : connected\r\n    SSID                   : CorpNet\r\n    AP BSSID               : a4:2b:b0:11:22:33\r\n    Band                   : 5 GHz\r\n    Network type           : Infrastructure\r\n    Radio type             : 802.11ax\r\n    Authentication         : WPA2-Enterprise\r\n    Signal                 : 92%\r\n\r\n    Hosted network status  : Not available\r\n"
	if w := ParseNetshWlan([]byte(out)); w != (Wifi{Ssid: "CorpNet", Bssid: "a4:2b:b0:11:22:33", Interface: "Wi-Fi"}) {
		t.Errorf("netsh: %+v", w)
	}
	old := "    Name                   : Wi-Fi 2\r\n    State                  : disconnected\r\n\r\n    Name                   : Wi-Fi\r\n    State                  : connected\r\n    SSID                   : Home\r\n    BSSID                  : 00:11:22:33:44:55\r\n"
	if w := ParseNetshWlan([]byte(old)); w.Ssid != "Home" || w.Bssid != "00:11:22:33:44:55" || w.Interface != "Wi-Fi" {
		t.Errorf("netsh (older): %+v", w)
	}
}

func TestInputMethodFiles(t *testing.T) {
	if ic := ParseFcitx4Profile([]byte("[Profile]\nEnabledIMList=fcitx-keyboard-us:True,hangul:True,mozc:False\n")); !reflect.DeepEqual(ic, InputConfig{Layouts: []string{"us"}, InputMethods: []string{"hangul"}}) {
		t.Errorf("fcitx4: %+v", ic)
	}
	bin := []byte("\x00\x01sources\x00xkb\x00us\x00\x08ibus\x00hangul\x00\x09\x00preload")
	if ic := ParseDconf(bin); !reflect.DeepEqual(ic, InputConfig{Layouts: []string{"us"}, InputMethods: []string{"hangul"}}) {
		t.Errorf("dconf binary: %+v", ic)
	}
	if ic := ParseDconf([]byte("[desktop/ibus/general]\npreload-engines=['hangul', 'anthy']\n")); !reflect.DeepEqual(ic.InputMethods, []string{"hangul", "anthy"}) {
		t.Errorf("ibus preload: %+v", ic)
	}
}

func TestIsVPN(t *testing.T) {
	for _, c := range []struct {
		name, desc string
		want       bool
	}{
		{"wg0", "", true}, {"tun0", "", true}, {"utun3", "", true}, {"ppp0", "", true}, {"tap1", "", true},
		{"ipsec0", "", true}, {"nordlynx", "", true}, {"Ethernet 3", "TAP-Windows Adapter V9", true},
		{"Astrill", "", true}, {"Local Area Connection", "Mullvad Wintun", true}, {"ProtonVPN", "", true},
		{"eth0", "", false}, {"en0", "", false}, {"Wi-Fi", "Intel(R) Wi-Fi 6 AX201", false}, {"tunnelx", "", false},
		{"docker0", "", false}, {"lo", "", false},
	} {
		if got := IsVPN(c.name, c.desc); got != c.want {
			t.Errorf("%q %q: %v", c.name, c.desc, got)
		}
	}
}

func TestParseUtmp(t *testing.T) {
	if _, err := ParseUtmp(make([]byte, 100)); err == nil {
		t.Error("partial record accepted")
	}
	ss, err := ParseUtmp(append(utmpRecord(7, "pts/3", "eve", "10.0.0.9"), utmpRecord(2, "~", "reboot", "")...))
	if err != nil || len(ss) != 1 || ss[0] != (Session{User: "eve", Tty: "pts/3", Host: "10.0.0.9"}) {
		t.Fatalf("%+v %v", ss, err)
	}
	users, remote := sessionLists(ss)
	if !reflect.DeepEqual(users, []string{"eve"}) || !reflect.DeepEqual(remote, []string{"eve from 10.0.0.9 (pts/3)"}) {
		t.Errorf("%v %v", users, remote)
	}
}

// FuzzCommandOutputs feeds hostile bytes to every command-output and file parser.
func FuzzCommandOutputs(f *testing.F) {
	for _, s := range []string{defaultsHIToolbox, sampleReg, "yes:a\\:b:AA\\:BB\\:CC\\:DD\\:EE\\:FF:wlan0",
		"? (192.168.1.1) at 0:11:22:33:44:55 on en0 ifscope [ethernet]", "Interface: 1.2.3.4 --- 0xb\n  1.2.3.5  00-11-22-33-44-55  dynamic",
		"    SSID : x\n    AP BSSID : 00:11:22:33:44:55", "Connected to 64:d1:54:aa:bb:cc (on w)\n\tSSID: x",
		"Current Network Information:\n  X:\n    BSSID: 1:2:3:4:5:6", "eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000",
		"Main:\n |-- 10.0.0.1\n /32 host LOCAL", "[Groups/0/Items/1]\nName=hangul", "fe80::1 dev eth0 lladdr 52:54:00:12:34:56 REACHABLE"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseNmcliWifi(b)
		ParseIwLink(b)
		ParseProcNetWireless(b)
		ParseIPNeigh(b)
		ParseRouteGetDefault(b)
		ParseBSDArp(b)
		ParseWindowsArp(b)
		ParseIPConfigSummary(b)
		ParseSystemProfilerAirport(b)
		ParseNetshWlan(b)
		ParseSwVers(b)
		ParseHardwarePorts(b)
		_, _ = ParseHIToolbox(b)
		_, _ = ParseGlobalPreferences(b)
		ParseKeyValues(b)
		ParseFcitx5Profile(b)
		ParseFcitx4Profile(b)
		ParseDconf(b)
		if rs, err := ParseProcNetRoute(b); err == nil {
			DefaultGateway(rs)
			assignIPv4(LocalIPv4FromFibTrie(b), rs)
		}
		_, _ = ParseProcNetArp(b)
		ParseIfInet6(b)
		_, _ = ParseUtmp(b)
		if r, err := ParseRegExport(b); err == nil {
			WindowsInput(r)
			WindowsTimezone(r)
			WindowsVersion(r)
		}
		for _, n := range ParseBSDArp(b) {
			if m := NormalizeMac(n.Mac); len(m) == 17 && MacPrefix(m) == "" {
				t.Fatal("prefix")
			}
		}
	})
}
