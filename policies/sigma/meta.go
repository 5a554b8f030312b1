package sigma

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// Metadata and logsource: lenient, as SigmaHQ rules need.

func has(m *yaml.Node, k string) bool {
	key, _ := lookup(m, k)
	return key != nil
}

func scalarText(n *yaml.Node) (string, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return "", false
	}
	if n.ShortTag() == "!!null" {
		return "", true
	}
	return n.Value, true
}

// stringList accepts a list of scalars or a single scalar (lenient metadata).
func stringList(n *yaml.Node) []string {
	n = deref(n)
	if n == nil {
		return nil
	}
	if s, ok := scalarText(n); ok {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	if n.Kind != yaml.SequenceNode {
		return nil
	}
	var out []string
	for _, c := range n.Content {
		if s, ok := scalarText(c); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) meta(d *yaml.Node, structural map[string]bool) Meta {
	var m Meta
	for i := 0; i+1 < len(d.Content); i += 2 {
		k, v := d.Content[i].Value, deref(d.Content[i+1])
		s, _ := scalarText(v)
		switch k {
		case "title":
			m.Title = s
		case "id":
			m.ID = s
		case "name":
			m.Name = s
		case "status":
			m.Status = s
		case "description":
			m.Description = s
		case "author":
			m.Author = s
		case "license":
			m.License = s
		case "date":
			m.Date = s
		case "modified":
			m.Modified = s
		case "level":
			m.Level = s
		case "taxonomy":
			m.Taxonomy = s
		case "references":
			m.References = stringList(v)
		case "tags":
			m.Tags = stringList(v)
		case "falsepositives":
			m.FalsePositives = stringList(v)
		case "fields":
			m.Fields = stringList(v)
		case "related":
			if v != nil && v.Kind == yaml.SequenceNode {
				for _, r := range v.Content {
					_, id := lookup(r, "id")
					_, ty := lookup(r, "type")
					ids, _ := scalarText(id)
					tys, _ := scalarText(ty)
					m.Related = append(m.Related, Related{ids, tys})
				}
			}
		default:
			if structural[k] {
				continue
			}
			if m.Custom == nil {
				m.Custom = map[string]string{}
			}
			m.Custom[k] = s
		}
	}
	if len(m.Title) > 256 {
		k, _ := lookup(d, "title")
		p.warnAt(pos(k), "title is %d characters, longer than Sigma's 256", len(m.Title))
	}
	return m
}

func (p *parser) logsource(d *yaml.Node, required bool) (Logsource, *docError) {
	var ls Logsource
	k, v := lookup(d, "logsource")
	if k == nil {
		if required {
			return ls, fail(pos(d), "missing 'logsource'")
		}
		return ls, nil
	}
	if v == nil || v.Kind != yaml.MappingNode {
		return ls, fail(pos(k), "'logsource' must be a mapping of category, product, service")
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		key := v.Content[i].Value
		s, ok := scalarText(v.Content[i+1])
		if !ok {
			return ls, fail(pos(v.Content[i]), "logsource %s must be a scalar", key)
		}
		switch key {
		case "category":
			ls.Category = strings.ToLower(s)
		case "product":
			ls.Product = strings.ToLower(s)
		case "service":
			ls.Service = strings.ToLower(s)
		case "definition":
			ls.Definition = s
		}
	}
	return ls, nil
}
