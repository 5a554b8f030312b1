package agent

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/vigilhq/vigil/internal/cliconfig"
)

// loadConfig reads a configuration file the way `vigil agent run --config` does.
func loadConfig(path string, env map[string]string, args ...string) (*Config, error) {
	var c Config
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	c.Flags(fs)
	fs.String("config", "", "")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	err := cliconfig.Apply(fs, path, cliconfig.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		return nil, err
	}
	return &c, c.Validate()
}

func TestConfigFiles(t *testing.T) {
	good, _ := filepath.Glob("testdata/*.good.yml")
	bad, _ := filepath.Glob("testdata/*.bad.yml")
	if len(good) < 2 || len(bad) < 5 {
		t.Fatalf("testdata: %d good, %d bad", len(good), len(bad))
	}
	for _, p := range good {
		if _, err := loadConfig(p, nil); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	want := map[string]string{
		"unknown-key": `unknown key "enrol_secret"`,
		"plain-http":  "plain http is only allowed to a loopback server",
		"bad-pin":     "want sha256:",
		"wrong-type":  `key "queue_max_mb"`,
		"low-rss":     "rss-budget-mb 5",
		"no-server":   "no server",
	}
	for _, p := range bad {
		name := strings.TrimSuffix(filepath.Base(p), ".bad.yml")
		_, err := loadConfig(p, nil)
		if err == nil {
			t.Errorf("%s accepted", p)
			continue
		}
		if w := want[name]; w == "" || !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %q, want it to contain %q", p, err, w)
		}
	}
}

func TestConfigValues(t *testing.T) {
	c, err := loadConfig("testdata/full.good.yml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.ServerURL != "https://vigil.example.com:8443" || c.QueueMaxMB != 512 || c.CPUBudget != 1.5 || c.RSSBudgetMB != 120 ||
		strings.Join(c.Only, ",") != "process,netconn,usb" || strings.Join(c.Rules, ",") != "/etc/vigil/rules" || c.LogLevel != "warn" {
		t.Fatalf("config %+v", c)
	}
	// The command line wins over the environment, which wins over the file.
	c, err = loadConfig("testdata/full.good.yml", map[string]string{"VIGIL_QUEUE_MAX_MB": "64", "VIGIL_CPU_BUDGET": "3"}, "--cpu-budget", "0.5")
	if err != nil {
		t.Fatal(err)
	}
	if c.QueueMaxMB != 64 || c.CPUBudget != 0.5 {
		t.Fatalf("precedence: queue %d, cpu %g", c.QueueMaxMB, c.CPUBudget)
	}
	// Defaults.
	c, err = loadConfig("testdata/loopback.good.yml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.QueueMaxMB != DefaultQueueMaxMB || c.CPUBudget != DefaultCPUBudget || c.RSSBudgetMB != DefaultRSSBudgetMB || c.StateDir != DefaultStateDir() {
		t.Fatalf("defaults %+v", c)
	}
}

// A machine id given in the configuration (cloned images sharing /etc/machine-id) is used as
// given, trimmed and lower-cased like the OS's; an empty or all-zero one is refused.
func TestConfigMachineID(t *testing.T) {
	c, err := loadConfig("testdata/loopback.good.yml", map[string]string{"VIGIL_MACHINE_ID": " Golden-Clone-7 "})
	if err != nil {
		t.Fatal(err)
	}
	if c.MachineID != "golden-clone-7" {
		t.Fatalf("machine id %q", c.MachineID)
	}
	f, err := hostFacts(*c)
	if err != nil || f.MachineID != "golden-clone-7" {
		t.Fatalf("host facts %+v %v", f, err)
	}
	for _, bad := range []string{"0000-0000", strings.Repeat("a", 129)} {
		if _, err := loadConfig("testdata/loopback.good.yml", nil, "--machine-id", bad); err == nil || !strings.Contains(err.Error(), "machine-id") {
			t.Errorf("machine id %q: error %v", bad, err)
		}
	}
}

func TestStatusHealthy(t *testing.T) {
	now := time.Now()
	good := Status{UpdatedAt: now.Add(-5 * time.Second), StartedAt: now.Add(-time.Minute), Enrolled: true, LastContact: now.Add(-10 * time.Second)}
	if err := good.Healthy(now); err != nil {
		t.Fatalf("healthy agent: %v", err)
	}
	for name, mod := range map[string]func(*Status){
		"stale":                         func(s *Status) { s.UpdatedAt = now.Add(-time.Minute) },
		"not enrolled":                  func(s *Status) { s.Enrolled = false },
		"no contact":                    func(s *Status) { s.LastContact = time.Time{} },
		"contact from before the start": func(s *Status) { s.LastContact = now.Add(-2 * time.Minute) },
	} {
		st := good
		mod(&st)
		if err := st.Healthy(now); err == nil {
			t.Errorf("%s: healthy", name)
		}
	}
}
