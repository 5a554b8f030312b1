package policies

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoadSpec names the rules to load. It is how every part of Vigil loads rules (`vigil scan`, the
// `vigil policy` tools, the agent, the server), so they agree on placeholders, the built-in pack
// and what counts as a failure.
type LoadSpec struct {
	// Paths are rule files and folders (folders recursively: *.yml, *.yaml, not *.test.yml).
	Paths []string
	// Builtin adds the embedded pack (BuiltinFS). Its warnings are left out: its own tests keep it
	// free of them; its errors are kept.
	Builtin bool
	// PlaceholdersFile is a YAML file mapping |expand placeholder names to a value or a list of
	// values (ReadPlaceholders). Its values are added to Options.Placeholders.
	PlaceholdersFile string
	// Options apply to every document loaded.
	Options LoadOptions
	// AllowEmpty accepts a load that asked for rules (Paths or Builtin) and got none, without a
	// refused document to say why. Without it that is ErrNoRules: evaluating nothing would pass
	// for a clean result.
	AllowEmpty bool
}

// ErrNoRules is returned by Load when rules were asked for and none loaded.
var ErrNoRules = errors.New("no rules loaded")

// Load loads what spec names, merged into one Ruleset. Problems (refused documents and warnings)
// are sorted by file and line, each once; callers print them and decide (CountProblems). The
// error is for what stops loading altogether: an unreadable path, a bad placeholders file, or
// ErrNoRules.
func Load(spec LoadSpec) (*Ruleset, []Problem, error) {
	opts := spec.Options
	if spec.PlaceholdersFile != "" {
		ph, err := ReadPlaceholders(spec.PlaceholdersFile)
		if err != nil {
			return nil, nil, err
		}
		merged := make(map[string][]string, len(opts.Placeholders)+len(ph))
		for k, v := range opts.Placeholders {
			merged[k] = v
		}
		for k, v := range ph {
			merged[k] = append(merged[k], v...)
		}
		opts.Placeholders = merged
	}
	var sets []*Ruleset
	var problems []Problem
	if len(spec.Paths) > 0 {
		rs, p, err := LoadPaths(spec.Paths, opts)
		if err != nil {
			return nil, nil, err
		}
		sets, problems = append(sets, rs), append(problems, p...)
	}
	if spec.Builtin {
		bopts := opts
		bopts.builtin = true
		rs, p, err := LoadFS(BuiltinFS(), bopts)
		if err != nil {
			return nil, nil, fmt.Errorf("built-in rules: %w", err)
		}
		sets = append(sets, rs)
		for _, pr := range p {
			if !pr.Warning {
				problems = append(problems, pr)
			}
		}
	}
	rs, p := Merge(sets...)
	problems = SortProblems(append(problems, p...))
	// Refused documents explain an empty set themselves.
	if errs, _ := CountProblems(problems); errs == 0 && rs.Len() == 0 && (len(spec.Paths) > 0 || spec.Builtin) && !spec.AllowEmpty {
		where := strings.Join(spec.Paths, ", ")
		if spec.Builtin {
			where = strings.TrimPrefix(where+", the built-in pack", ", ")
		}
		return rs, problems, fmt.Errorf("%w from %s", ErrNoRules, where)
	}
	return rs, problems, nil
}

// SortProblems sorts problems by file and line and drops repeats (merging rule sets resolves
// correlations again, so the same warning can arrive twice). It reuses the slice.
func SortProblems(problems []Problem) []Problem {
	seen := make(map[Problem]bool, len(problems))
	uniq := problems[:0]
	for _, p := range problems {
		if !seen[p] {
			seen[p] = true
			uniq = append(uniq, p)
		}
	}
	sort.SliceStable(uniq, func(i, j int) bool {
		if uniq[i].File != uniq[j].File {
			return uniq[i].File < uniq[j].File
		}
		return uniq[i].Line < uniq[j].Line
	})
	return uniq
}

// CountProblems returns how many problems are errors (refused documents) and how many warnings.
func CountProblems(problems []Problem) (errs, warns int) {
	for _, p := range problems {
		if p.Warning {
			warns++
		} else {
			errs++
		}
	}
	return errs, warns
}

// ReadPlaceholders reads a placeholders file: a YAML mapping from placeholder name (without the
// %) to a value or a list of values, e.g. `Administrators: [admin, root]`. Values are scalars
// (numbers are taken as written); errors name the file and line.
func ReadPlaceholders(path string) (map[string][]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("placeholders: %w", err)
	}
	return ParsePlaceholders(path, data)
}

// ParsePlaceholders is ReadPlaceholders over a file's content; name is used in errors.
func ParsePlaceholders(name string, data []byte) (map[string][]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("placeholders %s: %w", name, err)
	}
	out := map[string][]string{}
	if len(doc.Content) == 0 {
		return out, nil
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("placeholders %s:%d: want a mapping of placeholder names to values", name, m.Line)
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if _, dup := out[k.Value]; dup {
			return nil, fmt.Errorf("placeholders %s:%d: %q is given twice", name, k.Line, k.Value)
		}
		var vals []string
		switch {
		case v.Kind == yaml.ScalarNode && v.Tag != "!!null":
			vals = []string{v.Value}
		case v.Kind == yaml.SequenceNode:
			for _, item := range v.Content {
				if item.Kind != yaml.ScalarNode || item.Tag == "!!null" {
					return nil, fmt.Errorf("placeholders %s:%d: %q: each value must be a string or a number", name, item.Line, k.Value)
				}
				vals = append(vals, item.Value)
			}
		default:
			return nil, fmt.Errorf("placeholders %s:%d: %q: want a value or a list of values", name, v.Line, k.Value)
		}
		if len(vals) == 0 {
			return nil, fmt.Errorf("placeholders %s:%d: %q has no values", name, v.Line, k.Value)
		}
		out[k.Value] = vals
	}
	return out, nil
}
