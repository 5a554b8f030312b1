package policies

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/internal/shareddata"
)

// loadFolder loads every rule file of a folder one by one and returns how many loaded cleanly and
// the refusal messages of the others, by file.
func loadFolder(t *testing.T, dir string, opts LoadOptions) (loaded int, refused map[string][]string) {
	t.Helper()
	refused = map[string][]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !isRuleFile(d.Name()) {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rs, problems := ParseBytes(path, data, opts)
		var errs []string
		for _, p := range problems {
			if !p.Warning {
				errs = append(errs, p.Error())
			}
		}
		switch {
		case len(errs) > 0:
			refused[path] = errs
		case rs.Len() == 0:
			refused[path] = []string{"no document"}
		default:
			loaded++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return loaded, refused
}

// folderLoads pins one folder of rules: how many of its files load with opts, and why each of
// the others is refused.
type folderLoads struct {
	name    string
	dir     string
	opts    LoadOptions
	loaded  int
	refused map[string]string // file (relative to dir) -> a fragment of its refusal
	// For a folder whose files are all refused for the same kind of reason: how many, and the
	// fragment each refusal holds (refused is then nil).
	allRefused int
	allReason  string
}

// checkFolderLoads loads each folder file by file and checks it against its pins.
func checkFolderLoads(t *testing.T, folders []folderLoads) {
	for _, f := range folders {
		t.Run(f.name, func(t *testing.T) {
			loaded, refused := loadFolder(t, f.dir, f.opts)
			if loaded != f.loaded || len(refused) != len(f.refused)+f.allRefused {
				t.Errorf("loaded %d, refused %d; want %d and %d", loaded, len(refused), f.loaded, len(f.refused)+f.allRefused)
			}
			for path, msgs := range refused {
				rel, _ := filepath.Rel(f.dir, path)
				want, ok := f.refused[filepath.ToSlash(rel)]
				if f.allReason != "" {
					want, ok = f.allReason, true
				}
				if !ok || !strings.Contains(strings.Join(msgs, "\n"), want) {
					t.Errorf("%s refused: %v (want %q)", rel, msgs, want)
				}
			}
		})
	}
}

// TestCorpusLoads pins, per folder, how many SigmaHQ and LOLRMM rule files load and which are
// refused (each with a specific reason).
func TestCorpusLoads(t *testing.T) {
	sigmahq := shareddata.Dir(t, "sigmahq")
	lolrmm := shareddata.Dir(t, "lolrmm", "sigma")
	checkFolderLoads(t, []folderLoads{
		{"rules", filepath.Join(sigmahq, "rules"), LoadOptions{}, 585, map[string]string{
			// A broken upstream rule: a modifier written on the identifier instead of a field.
			"macos/process_creation/proc_creation_macos_file_and_directory_discovery.yml": `invalid search identifier "select_tree_execution|endswith"`,
		}, 0, ""},
		{"rules-emerging-threats", filepath.Join(sigmahq, "rules-emerging-threats"), LoadOptions{}, 56, map[string]string{
			"2026/Exploits/CVE-2026-54121/win_security_adcs_certighost_cdc_chase_request.yml":     "unresolved placeholder %known_cdcs%",
			"2026/Exploits/CVE-2026-54121/win_security_adcs_certighost_cert_issued_via_chase.yml": "unresolved placeholder %known_cdcs%",
		}, 0, ""},
		{"rules-emerging-threats with placeholder values", filepath.Join(sigmahq, "rules-emerging-threats"), corpusPlaceholders, 58, nil, 0, ""},
		{"rules-threat-hunting", filepath.Join(sigmahq, "rules-threat-hunting"), LoadOptions{}, 24, nil, 0, ""},
		{"rules-placeholder", filepath.Join(sigmahq, "rules-placeholder"), LoadOptions{}, 0, nil, 5, "unresolved placeholder %"},
		{"rules-placeholder with placeholder values", filepath.Join(sigmahq, "rules-placeholder"), corpusPlaceholders, 5, nil, 0, ""},
		{"lolrmm", lolrmm, LoadOptions{}, 632, nil, 0, ""},
	})
}

// TestUnsupportedRefused: the 19 legacy v1 rules are all refused, each naming the construct.
func TestUnsupportedRefused(t *testing.T) {
	dir := shareddata.Dir(t, "sigmahq", "unsupported")
	loaded, refused := loadFolder(t, dir, LoadOptions{})
	if loaded != 0 || len(refused) != 19 {
		t.Errorf("loaded %d, refused %d; want 0 and 19", loaded, len(refused))
	}
	kinds := map[string]int{}
	for path, msgs := range refused {
		m := strings.Join(msgs, "\n")
		switch {
		case strings.Contains(m, "aggregation pipe"):
			kinds["pipe"]++
		case strings.Contains(m, "'timeframe'"):
			kinds["timeframe"]++
		case strings.Contains(m, "action: global"):
			kinds["action"]++
		default:
			t.Errorf("%s: unexpected reason %v", path, msgs)
		}
	}
	if kinds["action"] != 3 || kinds["pipe"]+kinds["timeframe"] != 16 {
		t.Errorf("reasons %v", kinds)
	}
}

// TestCorrelationExamples: every correlation example loads except the malformed PR 5415 one
// (timespan outside correlation:) and spec block 01 (no type); the alias example's base rules
// (no title, no logsource) are refused as any rule without them, and its correlation loads
// inactive with a warning for each unresolved rule.
func TestCorrelationExamples(t *testing.T) {
	dir := shareddata.Dir(t, "sigmahq", "correlation-examples")
	refusedWant := map[string]string{
		"sigma-specification/spec-doc-examples/sigma-correlation-rules-specification_block01.yml":               "correlation: missing 'type'",
		"sigma-specification/spec-doc-examples/sigma-correlation-rules-specification_block09.yml":               "missing 'title'",
		"sigma-specification/spec-doc-examples/sigma-correlation-rules-specification_block10.yml":               "missing 'title'",
		"sigmahq-pull-requests/pr-5415/rules/windows/process_creation/proc_creation_discovery_ransomware.yml":   "a top-level 'timespan' was found at line 13: it belongs inside 'correlation:'",
		"sigmahq-pull-requests/pr-5415/rules/windows/process_creation/proc_creation_win_discovery_commands.yml": "value is a mapping",
	}
	var corrFiles []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && isRuleFile(d.Name()) {
			corrFiles = append(corrFiles, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(corrFiles)
	correlations := 0
	for _, path := range corrFiles {
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		data, _ := os.ReadFile(path)
		rs, problems := ParseBytes(path, data, LoadOptions{})
		var errs []string
		for _, p := range problems {
			if !p.Warning {
				errs = append(errs, p.Message)
			}
		}
		for _, ri := range rs.Rules() {
			if ri.Kind == "correlation" {
				correlations++
			}
		}
		want, refused := refusedWant[rel]
		switch {
		case refused && !strings.Contains(strings.Join(errs, "\n"), want):
			t.Errorf("%s: problems %v, want %q", rel, errs, want)
		case !refused && len(errs) > 0:
			t.Errorf("%s: refused %v", rel, errs)
		}
	}
	// 8 schema tests + spec blocks 02-08, 11, 12 (two) + PR 5415 (2 of 3 files) + 6085 + 6168.
	if correlations != 8+9+1+2+1+1 {
		t.Errorf("%d correlations loaded", correlations)
	}
	// The discovery-commands correlation of PR 5415 loads, but its base rules are refused, so
	// it stays inactive with warnings; the full chained example of block 12 resolves.
	data, _ := os.ReadFile(filepath.Join(dir, "sigma-specification/spec-doc-examples/sigma-correlation-rules-specification_block12.yml"))
	rs, problems := ParseBytes("block12.yml", data, LoadOptions{})
	if len(problems) != 0 || len(rs.specs) != 2 {
		t.Errorf("block 12: %v, %d active correlations", problems, len(rs.specs))
	}
	data, _ = os.ReadFile(filepath.Join(dir, "sigma-specification/spec-doc-examples/sigma-correlation-rules-specification_block11.yml"))
	rs, problems = ParseBytes("block11.yml", data, LoadOptions{})
	if len(rs.specs) != 0 || len(problems) != 2 || !problems[0].Warning || !strings.Contains(problems[0].Message, `rule "internal_error" is not loaded`) {
		t.Errorf("block 11: %v", problems)
	}
}
