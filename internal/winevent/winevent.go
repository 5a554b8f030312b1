// Package winevent turns Windows event-log records exported as JSON (the shape evtx_dump and
// similar tools print: Event.System, Event.EventData, Event.UserData) into Vigil events with the
// Sigma logsource of their channel, so SigmaHQ rules written for Sysmon and the Windows built-in
// logs run on them unchanged. It is how detection engineers replay real Windows logs through
// `vigil policy eval --format evtx-json`, and how the SigmaHQ regression data is tested.
package winevent

import (
	"bytes"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/vigilhq/vigil/internal/event"
)

// channelService maps event-log channels to Sigma logsource services (product windows), after
// the Windows service table of the Sigma taxonomy appendix.
var channelService = map[string]string{
	"security":                             "security",
	"system":                               "system",
	"application":                          "application",
	"microsoft-windows-sysmon/operational": "sysmon",
	"microsoft-windows-powershell/operational":                                 "powershell",
	"windows powershell":                                                       "powershell-classic",
	"microsoft-windows-windows defender/operational":                           "windefend",
	"microsoft-windows-taskscheduler/operational":                              "taskscheduler",
	"microsoft-windows-wmi-activity/operational":                               "wmi",
	"microsoft-windows-bits-client/operational":                                "bits-client",
	"microsoft-windows-windows firewall with advanced security/firewall":       "firewall-as",
	"microsoft-windows-dns-client/operational":                                 "dns-client",
	"microsoft-windows-codeintegrity/operational":                              "codeintegrity-operational",
	"microsoft-windows-driverframeworks-usermode/operational":                  "driver-framework",
	"microsoft-windows-ntlm/operational":                                       "ntlm",
	"microsoft-windows-printservice/admin":                                     "printservice-admin",
	"microsoft-windows-printservice/operational":                               "printservice-operational",
	"microsoft-windows-smbclient/security":                                     "smbclient-security",
	"microsoft-windows-smbclient/connectivity":                                 "smbclient-connectivity",
	"microsoft-windows-terminalservices-localsessionmanager/operational":       "terminalservices-localsessionmanager",
	"microsoft-windows-appxdeploymentserver/operational":                       "appxdeployment-server",
	"microsoft-windows-applocker/exe and dll":                                  "applocker",
	"microsoft-windows-applocker/msi and script":                               "applocker",
	"microsoft-windows-applocker/packaged app-deployment":                      "applocker",
	"microsoft-windows-applocker/packaged app-execution":                       "applocker",
	"microsoft-windows-openssh/operational":                                    "openssh",
	"microsoft-windows-bitlocker/bitlocker management":                         "bitlocker",
	"microsoft-windows-capi2/operational":                                      "capi2",
	"microsoft-windows-certificateservicesclient-lifecycle-system/operational": "certificateservicesclient-lifecycle-system",
	"microsoft-windows-dhcp-server/operational":                                "dhcp",
	"microsoft-windows-ldap-client/debug":                                      "ldap",
	"microsoft-windows-security-mitigations/kernel mode":                       "security-mitigations",
	"microsoft-windows-security-mitigations/user mode":                         "security-mitigations",
	"microsoft-windows-shell-core/operational":                                 "shell-core",
	"microsoft-windows-diagnosis-scripted/operational":                         "diagnosis-scripted",
	"microsoft-windows-kernel-shimengine/operational":                          "shimengine",
	"microsoft-windows-vhdmp/operational":                                      "vhdmp",
	"openssh/operational":                                                      "openssh",
}

// sysmonCategory maps Sysmon event IDs to Sigma categories. Event 12 depends on its EventType
// (registry_add or registry_delete) and is settled in categoryOf.
var sysmonCategory = map[int64]string{
	1: "process_creation", 2: "file_change", 3: "network_connection", 4: "sysmon_status",
	5: "process_termination", 6: "driver_load", 7: "image_load", 8: "create_remote_thread",
	9: "raw_access_thread", 10: "process_access", 11: "file_event", 13: "registry_set",
	14: "registry_rename", 15: "create_stream_hash", 16: "sysmon_status", 17: "pipe_created",
	18: "pipe_created", 19: "wmi_event", 20: "wmi_event", 21: "wmi_event", 22: "dns_query",
	23: "file_delete", 24: "clipboard_capture", 25: "process_tampering", 26: "file_delete_detected",
	27: "file_block_executable", 28: "file_block_shredding", 29: "file_executable_detected",
	255: "sysmon_error",
}

// powershellCategory maps PowerShell event IDs per channel service.
var powershellCategory = map[string]map[int64]string{
	"powershell":         {4103: "ps_module", 4104: "ps_script"},
	"powershell-classic": {400: "ps_classic_start", 600: "ps_classic_provider_start", 800: "ps_classic_script"},
}

// Decode reads one or more exported records from r: a JSON array, JSON lines, or pretty-printed
// objects one after another (as the SigmaHQ regression data holds them). It calls fn for each
// converted event, in order, and stops at fn's first error. name labels errors.
func Decode(name string, r io.Reader, fn func(*event.Event) error) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	for n := 1; ; n++ {
		var raw any
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("%s: record %d (near byte %d): %w", name, n, dec.InputOffset(), err)
		}
		recs := []any{raw}
		if arr, ok := raw.([]any); ok {
			recs = arr
		}
		for i, rec := range recs {
			obj, ok := rec.(map[string]any)
			if !ok {
				return fmt.Errorf("%s: record %d: not a JSON object", name, n+i)
			}
			ev, err := Convert(obj)
			if err != nil {
				return fmt.Errorf("%s: record %d: %w", name, n+i, err)
			}
			if err := fn(ev); err != nil {
				return err
			}
		}
	}
}

// Convert turns one exported record ({"Event": {"System": ..., "EventData": ...}} or the inner
// Event object itself) into an event. System values become fields named after their tag, and
// System attributes Tag_Attribute (Provider_Name, Security_UserID, TimeCreated_SystemTime);
// EventData and UserData values become fields under their own names.
func Convert(rec map[string]any) (*event.Event, error) {
	evt := rec
	if inner, ok := rec["Event"].(map[string]any); ok {
		evt = inner
	}
	sys, ok := evt["System"].(map[string]any)
	if !ok {
		return nil, errors.New(`field Event.System: missing or not an object`)
	}
	fields := make(map[string]any, 32)
	for k, v := range sys {
		flattenSystem(fields, k, v)
	}
	switch data := evt["EventData"].(type) {
	case map[string]any:
		flattenData(fields, data)
	case nil:
	default:
		return nil, fmt.Errorf("field Event.EventData: unexpected %T", data)
	}
	if ud, ok := evt["UserData"].(map[string]any); ok {
		for k, v := range ud {
			if k == "#attributes" {
				continue
			}
			if m, ok := v.(map[string]any); ok {
				flattenData(fields, m)
			}
		}
	}

	eid, ok := toInt(fields["EventID"])
	if !ok {
		return nil, errors.New("field Event.System.EventID: missing or not a number")
	}
	fields["EventID"] = eid
	channel, _ := fields["Channel"].(string)
	service := channelService[strings.ToLower(channel)]
	ev := &event.Event{
		Category: categoryOf(service, eid, fields),
		Product:  event.Windows,
		Service:  service,
		Fields:   fields,
	}
	ev.Host, _ = fields["Computer"].(string)
	if ts, ok := fields["TimeCreated_SystemTime"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			ev.Time = t.UTC()
		}
	}
	ev.ID = recordID(ev.Host, channel, fields["EventRecordID"], eid, ev.Time)
	return ev, nil
}

func categoryOf(service string, eid int64, fields map[string]any) string {
	switch service {
	case "sysmon":
		if eid == 12 {
			et, _ := fields["EventType"].(string)
			if strings.HasPrefix(strings.ToLower(et), "delete") {
				return "registry_delete"
			}
			return "registry_add"
		}
		return sysmonCategory[eid]
	case "powershell", "powershell-classic":
		return powershellCategory[service][eid]
	}
	return ""
}

func flattenSystem(out map[string]any, tag string, v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, sub := range t {
			if k == "#attributes" {
				if attrs, ok := sub.(map[string]any); ok {
					for an, av := range attrs {
						out[tag+"_"+an] = event.Normalize(av)
					}
				}
				continue
			}
			if k == "#text" {
				out[tag] = event.Normalize(sub)
				continue
			}
			flattenSystem(out, k, sub)
		}
	default:
		out[tag] = event.Normalize(v)
	}
}

// flattenData copies EventData/UserData values. It understands both the named-element shape
// ({"Image": "..."}) and the Data-list shape ({"Data": [{"#attributes": {"Name": "Image"},
// "#text": "..."}]}). Names lose their spaces, as the Sigma taxonomy writes them (Defender's
// "Source Name" is SourceName).
func flattenData(out map[string]any, data map[string]any) {
	for k, v := range data {
		if k == "#attributes" {
			continue
		}
		k = strings.ReplaceAll(k, " ", "")
		if k == "Data" {
			if list, ok := v.([]any); ok {
				for _, item := range list {
					if m, ok := item.(map[string]any); ok {
						if attrs, ok := m["#attributes"].(map[string]any); ok {
							if name, ok := attrs["Name"].(string); ok {
								out[strings.ReplaceAll(name, " ", "")] = event.Normalize(m["#text"])
							}
						}
					}
				}
				continue
			}
		}
		if m, ok := v.(map[string]any); ok {
			if text, ok := m["#text"]; ok {
				out[k] = event.Normalize(text)
				continue
			}
		}
		out[k] = event.Normalize(v)
	}
}

func toInt(v any) (int64, bool) {
	switch t := v.(type) {
	case int64:
		return t, true
	case float64:
		return int64(t), t == float64(int64(t))
	case string:
		i, err := strconv.ParseInt(t, 10, 64)
		return i, err == nil
	}
	return 0, false
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// recordID derives a stable id from the record's identity, so importing the same log twice
// yields the same event ids (the store then keeps one copy).
func recordID(host, channel string, recordID any, eid int64, t time.Time) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\x00%s\x00%v\x00%d\x00%s", host, channel, recordID, eid, t.Format(time.RFC3339Nano))
	sum := sha256.Sum256(b.Bytes())
	return "W" + idEncoding.EncodeToString(sum[:16])[:25]
}
