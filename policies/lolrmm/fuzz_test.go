package lolrmm

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vigilhq/vigil/policies"
)

// FuzzImport feeds arbitrary catalog files through parsing and conversion. Whatever the input,
// parsing must not panic, and every rule produced must load in the engine without an error: the
// importer never writes a rule that `vigil policy lint` refuses.
func FuzzImport(f *testing.F) {
	f.Add([]byte("Name: T\nDetails:\n  InstallationPaths: ['C:\\\\*\\\\kitty.exe', '%APPDATA%\\x\\y.exe', '/opt/t/*']\n"))
	f.Add([]byte("Name: T\nArtifacts:\n  Network:\n    - Domains: ['relay-[a-f0-9]{8}.t.com:443', '*.t.com', '1.2.3.4']\n      Ports: [21116, '1-2']\n"))
	f.Add([]byte("Name: T\nDetails:\n  PEMetadata:\n    - {Filename: setup.exe, OriginalFileName: Setup.exe, Product: T Suite}\n"))
	f.Add([]byte("Name: \"it's\"\nDetails:\n  InstallationPaths: [\"C:\\\\a'b\\\\c.exe\", \"\\\\\\\\\\\\\", \"*\", \"~\"]\n"))
	// Real catalog entries as seeds, when the shared testdata is there.
	for _, n := range []string{"anydesk.yaml", "screenconnect.yaml", "teramind.yaml"} {
		if b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "testdata", "lolrmm", "yaml", n)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tool, _, err := ParseTool("fuzz.yaml", data)
		if err != nil {
			return
		}
		res, err := Convert(&Catalog{Tools: []*Tool{tool}, Files: 1})
		if err != nil {
			return // an encoding failure is reported as an error, never a panic
		}
		for _, out := range res.Files {
			_, problems := policies.ParseBytes(out.Name, out.Data, policies.LoadOptions{})
			for _, p := range problems {
				if !p.Warning {
					t.Fatalf("generated rule refused: %s\n%s", p.Error(), out.Data)
				}
			}
		}
	})
}
