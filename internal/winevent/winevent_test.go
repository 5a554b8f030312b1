package winevent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/shareddata"
)

const sysmonRecord = `{
  "Event": {
    "System": {
      "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon", "Guid": "5770385F"}},
      "EventID": 1, "EventRecordID": 42, "Channel": "Microsoft-Windows-Sysmon/Operational",
      "Computer": "ws-01", "TimeCreated": {"#attributes": {"SystemTime": "2025-10-22T20:33:27.276702Z"}},
      "Security": {"#attributes": {"UserID": "S-1-5-18"}}
    },
    "EventData": {"Image": "C:\\Windows\\System32\\sc.exe", "CommandLine": "sc stop WinDefend",
                  "ProcessId": "0x378", "IntegrityLevel": "High"}
  }
}`

func TestConvertSysmon(t *testing.T) {
	var got []*event.Event
	err := Decode("rec.json", strings.NewReader(sysmonRecord+"\n"+sysmonRecord), func(e *event.Event) error {
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("want 2 concatenated records, got %d", len(got))
	}
	e := got[0]
	if e.Category != "process_creation" || e.Product != "windows" || e.Service != "sysmon" {
		t.Errorf("logsource = %q/%q/%q", e.Category, e.Product, e.Service)
	}
	want := map[string]any{
		"EventID": int64(1), "Provider_Name": "Microsoft-Windows-Sysmon", "Computer": "ws-01",
		"Security_UserID": "S-1-5-18", "Image": `C:\Windows\System32\sc.exe`, "ProcessId": "0x378",
		"TimeCreated_SystemTime": "2025-10-22T20:33:27.276702Z", "EventRecordID": int64(42),
	}
	for k, v := range want {
		if e.Fields[k] != v {
			t.Errorf("field %s = %#v, want %#v", k, e.Fields[k], v)
		}
	}
	if e.Host != "ws-01" || e.Time.IsZero() {
		t.Errorf("host %q time %v", e.Host, e.Time)
	}
	if e.ID == "" || e.ID != got[1].ID {
		t.Errorf("ids must be stable for the same record: %q vs %q", e.ID, got[1].ID)
	}
}

func TestConvertShapes(t *testing.T) {
	cases := []struct {
		name, rec, category, service string
		field, value                 string
	}{
		{"registry delete", `{"Event":{"System":{"EventID":12,"Channel":"Microsoft-Windows-Sysmon/Operational"},"EventData":{"EventType":"DeleteKey","TargetObject":"HKLM\\x"}}}`, "registry_delete", "sysmon", "TargetObject", `HKLM\x`},
		{"registry add", `{"Event":{"System":{"EventID":12,"Channel":"Microsoft-Windows-Sysmon/Operational"},"EventData":{"EventType":"CreateKey"}}}`, "registry_add", "sysmon", "EventType", "CreateKey"},
		{"security data list", `{"Event":{"System":{"EventID":4624,"Channel":"Security"},"EventData":{"Data":[{"#attributes":{"Name":"LogonType"},"#text":"10"}]}}}`, "", "security", "LogonType", "10"},
		{"user data", `{"Event":{"System":{"EventID":5858,"Channel":"Microsoft-Windows-WMI-Activity/Operational"},"UserData":{"Op":{"#attributes":{"x":"y"},"Operation":"ExecMethod"}}}}`, "", "wmi", "Operation", "ExecMethod"},
		{"defender names lose spaces", `{"Event":{"System":{"EventID":1119,"Channel":"Microsoft-Windows-Windows Defender/Operational"},"EventData":{"Source Name":"Real-Time Protection"}}}`, "", "windefend", "SourceName", "Real-Time Protection"},
		{"powershell", `{"System":{"EventID":4104,"Channel":"Microsoft-Windows-PowerShell/Operational"},"EventData":{"ScriptBlockText":"iex"}}`, "ps_script", "powershell", "ScriptBlockText", "iex"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ev *event.Event
			if err := Decode(c.name, strings.NewReader(c.rec), func(e *event.Event) error { ev = e; return nil }); err != nil {
				t.Fatal(err)
			}
			if ev.Category != c.category || ev.Service != c.service {
				t.Errorf("logsource %q/%q, want %q/%q", ev.Category, ev.Service, c.category, c.service)
			}
			if ev.Fields[c.field] != c.value {
				t.Errorf("%s = %#v, want %q", c.field, ev.Fields[c.field], c.value)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, in := range []string{`{"Event":{}}`, `{"Event":{"System":{"Channel":"Security"}}}`, `[1]`, `{"Event":`, `{"Event":{"System":{"EventID":1},"EventData":[1]}}`} {
		err := Decode("bad.json", strings.NewReader(in), func(*event.Event) error { return nil })
		if err == nil || !strings.HasPrefix(err.Error(), "bad.json: record 1") {
			t.Errorf("%s: error %v should name the file and record", in, err)
		}
	}
}

// Every record of the SigmaHQ regression data converts, with a logsource for each.
func TestRegressionDataConverts(t *testing.T) {
	root := shareddata.Dir(t, "sigmahq", "regression_data")
	n := 0
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".jsoncls")) {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return Decode(p, f, func(e *event.Event) error {
			n++
			if e.Service == "" {
				t.Errorf("%s: channel %v has no service", p, e.Fields["Channel"])
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 200 {
		t.Errorf("only %d records converted", n)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(sysmonRecord))
	f.Add([]byte(`[{"System":{"EventID":"7"}}]`))
	f.Add([]byte(`{"Event":{"System":{"EventID":1},"EventData":{"Data":[{"#attributes":{"Name":1}}]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = Decode("fuzz", strings.NewReader(string(data)), func(*event.Event) error { return nil })
	})
}
