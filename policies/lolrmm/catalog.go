package lolrmm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxFileSize bounds one catalog file. The largest upstream file (with embedded certificates)
// is under 100 KB; anything far bigger is not a catalog entry.
const MaxFileSize = 4 << 20

// Tool is one catalog entry, or several entries with the same Name merged (the catalog has a
// few duplicates such as isl_online.yaml and islonline.yaml).
type Tool struct {
	Name        string
	Category    string // RMM or RAT
	Description string
	Authors     []string // the entries' Author strings, distinct, in file order
	Created     string   // YYYY-MM-DD, the earliest of the merged entries
	Modified    string   // YYYY-MM-DD, the latest
	Website     string
	SupportedOS []string
	PE          []PEMetadata
	Paths       []Value // Details.InstallationPaths (also accepted at top level and under Artifacts)
	Network     []Network
	References  []string
	Files       []string // catalog file names (base names) behind this tool
}

// Value is one catalog string with where it came from.
type Value struct {
	Text string
	File string
	Line int
}

// PEMetadata is one Details.PEMetadata entry: the PE version-resource strings of a binary.
type PEMetadata struct {
	Filename, OriginalFileName, Description, Product string
	File                                             string
	Line                                             int
}

// Network is one Artifacts.Network entry.
type Network struct {
	Description string
	Domains     []Value
	Ports       []Value // integers or strings, as text
	File        string
	Line        int
}

// Skip is a catalog value (or a whole tool) that produced no Sigma, and why.
type Skip struct {
	Tool   string
	File   string
	Line   int
	Kind   string // path, pe, domain, port, field, tool
	Value  string
	Reason string
}

func (s Skip) String() string {
	loc := s.File
	if s.Line > 0 {
		loc = fmt.Sprintf("%s:%d", s.File, s.Line)
	}
	if s.Value == "" {
		return fmt.Sprintf("%s: %s %s: %s", loc, s.Tool, s.Kind, s.Reason)
	}
	return fmt.Sprintf("%s: %s %s %q: %s", loc, s.Tool, s.Kind, s.Value, s.Reason)
}

// Catalog is a loaded catalog folder.
type Catalog struct {
	Tools   []*Tool // merged by name, sorted by name
	Files   int     // catalog files read
	Skipped []Skip  // values that could not be read (wrong YAML type...)
}

// LoadDir reads every *.yaml and *.yml file of dir (not recursive, as upstream's yaml/ folder),
// in name order, and merges entries that share a Name. A file that is not valid YAML or has no
// Name is an error naming the file and line.
func LoadDir(dir string) (*Catalog, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read catalog folder: %w", err)
	}
	var names []string
	for _, e := range ents {
		n := strings.ToLower(e.Name())
		if !e.IsDir() && (strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no catalog files (*.yaml, *.yml)", dir)
	}
	cat := &Catalog{}
	byName := map[string]*Tool{}
	for _, n := range names {
		data, err := readLimited(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		t, skips, err := ParseTool(n, data)
		if err != nil {
			return nil, err
		}
		cat.Files++
		cat.Skipped = append(cat.Skipped, skips...)
		key := strings.ToLower(t.Name)
		if prev := byName[key]; prev != nil {
			prev.merge(t)
			continue
		}
		byName[key] = t
		cat.Tools = append(cat.Tools, t)
	}
	sort.Slice(cat.Tools, func(i, j int) bool { return strings.ToLower(cat.Tools[i].Name) < strings.ToLower(cat.Tools[j].Name) })
	return cat, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read catalog file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read catalog file %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes: not a catalog entry", path, MaxFileSize)
	}
	return data, nil
}

func (t *Tool) merge(o *Tool) {
	for _, a := range o.Authors {
		if !containsFold(t.Authors, a) {
			t.Authors = append(t.Authors, a)
		}
	}
	if t.Category == "" {
		t.Category = o.Category
	}
	if t.Description == "" {
		t.Description = o.Description
	}
	if t.Website == "" {
		t.Website = o.Website
	}
	if o.Created != "" && (t.Created == "" || o.Created < t.Created) {
		t.Created = o.Created
	}
	if o.Modified > t.Modified {
		t.Modified = o.Modified
	}
	for _, s := range o.SupportedOS {
		if !containsFold(t.SupportedOS, s) {
			t.SupportedOS = append(t.SupportedOS, s)
		}
	}
	for _, r := range o.References {
		if !containsFold(t.References, r) {
			t.References = append(t.References, r)
		}
	}
	t.PE = append(t.PE, o.PE...)
	t.Paths = append(t.Paths, o.Paths...)
	t.Network = append(t.Network, o.Network...)
	t.Files = append(t.Files, o.Files...)
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// ParseTool decodes one catalog file. The catalog's shapes vary (PEMetadata as a mapping or a
// list, Ports as integers or strings, InstallationPaths in three places, unknown keys), so
// decoding is lenient: a value of an unexpected type is skipped and reported, not fatal. Only
// invalid YAML, a top level that is not a mapping, or a missing Name is an error.
func ParseTool(file string, data []byte) (*Tool, []Skip, error) {
	if len(data) > MaxFileSize {
		return nil, nil, fmt.Errorf("%s: larger than %d bytes: not a catalog entry", file, MaxFileSize)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("%s: empty file", file)
		}
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		line := doc.Line
		if len(doc.Content) > 0 {
			line = doc.Content[0].Line
		}
		return nil, nil, fmt.Errorf("%s:%d: top level is not a mapping: not a LOLRMM tool entry", file, line)
	}
	root := doc.Content[0]
	p := &toolParser{file: file}
	name, ok := p.str(get(root, "Name"), "Name")
	if !ok || strings.TrimSpace(name) == "" {
		return nil, nil, fmt.Errorf("%s:%d: no Name: not a LOLRMM tool entry", file, root.Line)
	}
	t := &Tool{Name: oneLine(name), Files: []string{file}}
	p.tool = t.Name
	t.Category, _ = p.str(get(root, "Category"), "Category")
	t.Description, _ = p.str(get(root, "Description"), "Description")
	if a, _ := p.str(get(root, "Author"), "Author"); strings.TrimSpace(a) != "" {
		t.Authors = []string{oneLine(a)}
	}
	t.Created = p.date(get(root, "Created"), "Created")
	t.Modified = p.date(get(root, "LastModified"), "LastModified")
	t.References = p.strList(get(root, "References"), "References")

	details := get(root, "Details")
	if details != nil && details.Kind != yaml.MappingNode {
		p.skip(details, "field", "", "Details is not a mapping")
		details = nil
	}
	t.Website, _ = p.str(get(details, "Website"), "Details.Website")
	t.SupportedOS = p.strList(get(details, "SupportedOS"), "Details.SupportedOS")
	t.PE = p.peMetadata(get(details, "PEMetadata"))
	for _, where := range []struct {
		n    *yaml.Node
		name string
	}{
		{get(details, "InstallationPaths"), "Details.InstallationPaths"},
		{get(root, "InstallationPaths"), "InstallationPaths"},
		{get(get(root, "Artifacts"), "InstallationPaths"), "Artifacts.InstallationPaths"},
	} {
		t.Paths = append(t.Paths, p.valueList(where.n, where.name)...)
	}
	t.Network = p.network(get(get(root, "Artifacts"), "Network"))
	return t, p.skips, nil
}

type toolParser struct {
	file, tool string
	skips      []Skip
}

func (p *toolParser) skip(n *yaml.Node, kind, value, reason string) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.skips = append(p.skips, Skip{Tool: p.tool, File: p.file, Line: line, Kind: kind, Value: value, Reason: reason})
}

// get returns the value of key in a mapping node, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return resolve(m.Content[i+1])
		}
	}
	return nil
}

// resolve follows an alias (bounded: yaml.v3 refuses alias cycles).
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// str reads a scalar as text; null and absent are "" and ok.
func (p *toolParser) str(n *yaml.Node, field string) (string, bool) {
	if isNull(n) {
		return "", true
	}
	if n.Kind != yaml.ScalarNode {
		p.skip(n, "field", "", field+" is not a string")
		return "", false
	}
	return n.Value, true
}

func (p *toolParser) date(n *yaml.Node, field string) string {
	s, _ := p.str(n, field)
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	// Upstream quotes YYYY-MM-DD; accept a YAML timestamp's date part and YYYY/MM/DD too.
	if len(s) >= 10 {
		d := strings.ReplaceAll(s[:10], "/", "-")
		if isDate(d) {
			return d
		}
	}
	p.skip(n, "field", s, field+" is not a YYYY-MM-DD date")
	return ""
}

func isDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	for i, c := range s {
		if i != 4 && i != 7 && (c < '0' || c > '9') {
			return false
		}
	}
	return s[5:7] >= "01" && s[5:7] <= "12" && s[8:10] >= "01" && s[8:10] <= "31"
}

// items returns the entries of a field that holds one value or a list of them, aliases resolved
// and nulls left out.
func items(n *yaml.Node) []*yaml.Node {
	if isNull(n) {
		return nil
	}
	list := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		list = n.Content
	}
	out := make([]*yaml.Node, 0, len(list))
	for _, it := range list {
		if it = resolve(it); !isNull(it) {
			out = append(out, it)
		}
	}
	return out
}

// valueList reads a list of scalars (a single scalar is accepted as a one-item list).
func (p *toolParser) valueList(n *yaml.Node, field string) []Value {
	var out []Value
	for _, it := range items(n) {
		if it.Kind != yaml.ScalarNode {
			p.skip(it, "field", "", field+" item is not a string")
			continue
		}
		if strings.TrimSpace(it.Value) == "" {
			continue
		}
		out = append(out, Value{Text: it.Value, File: p.file, Line: it.Line})
	}
	return out
}

func (p *toolParser) strList(n *yaml.Node, field string) []string {
	var out []string
	for _, v := range p.valueList(n, field) {
		out = append(out, strings.TrimSpace(v.Text))
	}
	return out
}

func (p *toolParser) peMetadata(n *yaml.Node) []PEMetadata {
	var out []PEMetadata
	for _, it := range items(n) {
		if it.Kind != yaml.MappingNode {
			p.skip(it, "pe", "", "Details.PEMetadata item is not a mapping")
			continue
		}
		m := PEMetadata{File: p.file, Line: it.Line}
		m.Filename, _ = p.str(get(it, "Filename"), "PEMetadata.Filename")
		m.OriginalFileName, _ = p.str(get(it, "OriginalFileName"), "PEMetadata.OriginalFileName")
		m.Description, _ = p.str(get(it, "Description"), "PEMetadata.Description")
		m.Product, _ = p.str(get(it, "Product"), "PEMetadata.Product")
		m.Filename, m.OriginalFileName = strings.TrimSpace(m.Filename), strings.TrimSpace(m.OriginalFileName)
		m.Description, m.Product = oneLine(m.Description), oneLine(m.Product)
		if m.Filename == "" && m.OriginalFileName == "" {
			continue // upstream's empty template entry
		}
		out = append(out, m)
	}
	return out
}

func (p *toolParser) network(n *yaml.Node) []Network {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.skip(n, "field", "", "Artifacts.Network is not a list")
		return nil
	}
	var out []Network
	for _, it := range n.Content {
		it = resolve(it)
		if isNull(it) {
			continue
		}
		if it.Kind != yaml.MappingNode {
			p.skip(it, "field", "", "Artifacts.Network item is not a mapping")
			continue
		}
		nw := Network{File: p.file, Line: it.Line}
		nw.Description, _ = p.str(get(it, "Description"), "Network.Description")
		nw.Description = oneLine(nw.Description)
		nw.Domains = p.valueList(get(it, "Domains"), "Network.Domains")
		nw.Ports = p.valueList(get(it, "Ports"), "Network.Ports")
		out = append(out, nw)
	}
	return out
}

// oneLine folds whitespace runs (the catalog has folded multi-line scalars) into single spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
