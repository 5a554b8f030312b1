package cliconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

type flags struct {
	server   string
	interval time.Duration
	rules    []string
	insecure bool
	config   string
}

func newFlags() (*pflag.FlagSet, *flags) {
	var f flags
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.StringVar(&f.server, "server", "", "")
	fs.DurationVar(&f.interval, "checkin-interval", time.Minute, "")
	fs.StringArrayVar(&f.rules, "rules", nil, "")
	fs.BoolVar(&f.insecure, "insecure-http", false, "")
	fs.StringVar(&f.config, "config", "", "")
	return fs, &f
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vigil.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestPrecedence(t *testing.T) {
	path := writeFile(t, "server: https://file:8443\ncheckin_interval: 30s\nrules: [a.yml, b.yml]\ninsecure_http: true\n")
	fs, f := newFlags()
	if err := fs.Parse([]string{"--server", "https://flag:8443"}); err != nil {
		t.Fatal(err)
	}
	err := Apply(fs, path, Options{Getenv: env(map[string]string{"VIGIL_CHECKIN_INTERVAL": "45s", "VIGIL_RULES": "x.yml, y.yml"})})
	if err != nil {
		t.Fatal(err)
	}
	if f.server != "https://flag:8443" {
		t.Errorf("server = %q: the command line must win", f.server)
	}
	if f.interval != 45*time.Second {
		t.Errorf("interval = %v: the environment must win over the file", f.interval)
	}
	if strings.Join(f.rules, "|") != "x.yml|y.yml" {
		t.Errorf("rules = %q: the environment list must replace the file's", f.rules)
	}
	if !f.insecure {
		t.Error("insecure_http from the file not applied")
	}
}

func TestFileList(t *testing.T) {
	fs, f := newFlags()
	_ = fs.Parse(nil)
	if err := Apply(fs, writeFile(t, "rules:\n  - a.yml\n  - b.yml\n"), Options{Getenv: env(nil)}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.rules, "|") != "a.yml|b.yml" {
		t.Fatalf("rules = %q", f.rules)
	}
}

func TestFileErrors(t *testing.T) {
	for text, want := range map[string]string{
		"server: x\nsrever: y\n":       `:2: unknown key "srever" (known keys: checkin_interval, insecure_http, rules, server)`,
		"server: x\nserver: y\n":       `:2: key "server" given twice (first on line 1)`,
		"checkin_interval: soon\n":     `:1: key "checkin_interval": "soon": `,
		"server: [a, b]\n":             `:1: key "server" takes one value, not a list`,
		"server:\n  a: b\n":            `:2: key "server": want a value or a list, not a mapping`,
		"server:\n":                    `:1: key "server" has no value`,
		"- a\n- b\n":                   `:1: the top level must be a mapping`,
		"config: other.yaml\n":         `:1: unknown key "config"`,
		"insecure-http: true\n":        `:1: unknown key "insecure-http"`,
		"server: x\n  bad indent: [\n": `vigil.yaml`,
		"rules: [a, {b: c}]\n":         `:1: key "rules": list items must be plain values`,
		"insecure_http: maybe\n":       `:1: key "insecure_http": "maybe"`,
	} {
		fs, _ := newFlags()
		_ = fs.Parse(nil)
		err := Apply(fs, writeFile(t, text), Options{Getenv: env(nil)})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want it to contain %q", text, err, want)
		}
	}
}

func TestEmptyFileAndMissingFile(t *testing.T) {
	for _, text := range []string{"", "\n# only a comment\n", "~\n"} {
		fs, _ := newFlags()
		_ = fs.Parse(nil)
		if err := Apply(fs, writeFile(t, text), Options{Getenv: env(nil)}); err != nil {
			t.Errorf("%q: %v", text, err)
		}
	}
	fs, _ := newFlags()
	_ = fs.Parse(nil)
	if err := Apply(fs, filepath.Join(t.TempDir(), "none.yaml"), Options{Getenv: env(nil)}); err == nil {
		t.Error("missing file accepted")
	}
}

func TestEnvErrorNamesVariable(t *testing.T) {
	fs, _ := newFlags()
	_ = fs.Parse(nil)
	err := Apply(fs, "", Options{Getenv: env(map[string]string{"VIGIL_CHECKIN_INTERVAL": "x"})})
	if err == nil || !strings.HasPrefix(err.Error(), "VIGIL_CHECKIN_INTERVAL: ") {
		t.Fatalf("error %v", err)
	}
}

func TestSkip(t *testing.T) {
	fs, f := newFlags()
	_ = fs.Parse(nil)
	err := Apply(fs, "", Options{Skip: []string{"server"}, Getenv: env(map[string]string{"VIGIL_SERVER": "x"})})
	if err != nil || f.server != "" {
		t.Fatalf("skipped flag set from the environment: %q %v", f.server, err)
	}
}

func FuzzApplyFile(f *testing.F) {
	f.Add([]byte("server: x\nrules: [a]\n"))
	f.Add([]byte("- [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, _ := newFlags()
		_ = fs.Parse(nil)
		_ = applyFile(fs, "f.yaml", data, func(name string) (*pflag.Flag, bool) {
			fl := fs.Lookup(name)
			return fl, fl != nil && name != "config"
		})
	})
}
