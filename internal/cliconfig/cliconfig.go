// Package cliconfig gives a command's flags two more sources, so that every flag of `vigil
// agent run`, `vigil server` and the other long-running commands can also be set in a YAML
// configuration file and in the environment: the command line wins over VIGIL_* variables,
// which win over the file, which wins over the flag's default.
//
// The file is strict: its top level is a mapping whose keys are the flag names with '-' written
// '_' (--enroll-secret is enroll_secret); an unknown key, a key given twice or a value of the
// wrong shape is an error naming the file, the line and the key. A list-valued flag takes a YAML
// list, or in the environment a comma-separated list. The variable of a flag is VIGIL_ and its
// key in upper case (VIGIL_ENROLL_SECRET).
package cliconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// EnvPrefix starts the name of every variable.
const EnvPrefix = "VIGIL_"

// Key is the configuration-file key of a flag name.
func Key(flag string) string { return strings.ReplaceAll(flag, "-", "_") }

// EnvVar is the environment variable of a flag name.
func EnvVar(flag string) string { return EnvPrefix + strings.ToUpper(Key(flag)) }

// Options tune Apply.
type Options struct {
	// Skip names flags that neither the file nor the environment may set (the --config flag
	// itself, --help are always skipped).
	Skip []string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// Apply fills the flags of fs that the command line left unset: from the environment, then
// from the YAML file at path (no file when path is empty). It must run after fs.Parse.
func Apply(fs *pflag.FlagSet, path string, o Options) error {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	skip := map[string]bool{"config": true, "help": true}
	for _, s := range o.Skip {
		skip[s] = true
	}
	settable := map[string]*pflag.Flag{}
	fs.VisitAll(func(f *pflag.Flag) {
		if !skip[f.Name] && !f.Changed {
			settable[f.Name] = f
		}
	})
	fromEnv := map[string]bool{}
	for name, f := range settable {
		v := getenv(EnvVar(name))
		if v == "" {
			continue
		}
		if err := set(fs, f, splitList(f, v)); err != nil {
			return fmt.Errorf("%s: %w", EnvVar(name), err)
		}
		fromEnv[name] = true
	}
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	return applyFile(fs, path, data, func(name string) (*pflag.Flag, bool) {
		if skip[name] {
			return nil, false
		}
		f := fs.Lookup(name)
		if f == nil {
			return nil, false
		}
		return f, !f.Changed && !fromEnv[name]
	})
}

// applyFile parses data and sets each key through lookup, which returns the flag of a key and
// whether the file may set it now (false: the command line or environment already did).
func applyFile(fs *pflag.FlagSet, path string, data []byte, lookup func(string) (*pflag.Flag, bool)) error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) || len(bytes.TrimSpace(data)) == 0 {
			return nil // an empty file sets nothing
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%s:%d: the top level must be a mapping of settings (key: value)", path, root.Line)
	}
	known := knownKeys(fs)
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		key := k.Value
		if line, dup := seen[key]; dup {
			return fmt.Errorf("%s:%d: key %q given twice (first on line %d)", path, k.Line, key, line)
		}
		seen[key] = k.Line
		name := strings.ReplaceAll(key, "_", "-")
		f, settable := lookup(name)
		if f == nil || key != Key(name) {
			return fmt.Errorf("%s:%d: unknown key %q (known keys: %s)", path, k.Line, key, strings.Join(known, ", "))
		}
		var vals []string
		switch v.Kind {
		case yaml.ScalarNode:
			if v.Tag == "!!null" {
				return fmt.Errorf("%s:%d: key %q has no value", path, v.Line, key)
			}
			vals = []string{v.Value}
		case yaml.SequenceNode:
			if !isList(f) {
				return fmt.Errorf("%s:%d: key %q takes one value, not a list", path, v.Line, key)
			}
			for _, item := range v.Content {
				if item.Kind != yaml.ScalarNode {
					return fmt.Errorf("%s:%d: key %q: list items must be plain values", path, item.Line, key)
				}
				vals = append(vals, item.Value)
			}
		default:
			return fmt.Errorf("%s:%d: key %q: want a value or a list, not a mapping", path, v.Line, key)
		}
		if !settable {
			continue
		}
		if err := set(fs, f, vals); err != nil {
			return fmt.Errorf("%s:%d: key %q: %w", path, v.Line, key, err)
		}
	}
	return nil
}

func knownKeys(fs *pflag.FlagSet) []string {
	var out []string
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name != "config" && f.Name != "help" {
			out = append(out, Key(f.Name))
		}
	})
	sort.Strings(out)
	return out
}

func isList(f *pflag.Flag) bool {
	t := f.Value.Type()
	return strings.HasSuffix(t, "Slice") || strings.HasSuffix(t, "Array")
}

func splitList(f *pflag.Flag, v string) []string {
	if !isList(f) {
		return []string{v}
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// set replaces the flag's value with vals (one value, or a list's items) and marks it changed.
func set(fs *pflag.FlagSet, f *pflag.Flag, vals []string) error {
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		if err := sv.Replace(vals); err != nil {
			return err
		}
		f.Changed = true
		return nil
	}
	for _, v := range vals {
		if err := fs.Set(f.Name, v); err != nil {
			return fmt.Errorf("%q: %s", v, cleanErr(err))
		}
	}
	return nil
}

// cleanErr drops pflag's `invalid argument "x" for "--flag" flag:` prefix, keeping the reason.
func cleanErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, " flag: "); i >= 0 {
		return s[i+len(" flag: "):]
	}
	return s
}
