package sigma

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var corrKeys = map[string]bool{"type": true, "rules": true, "aliases": true, "group-by": true, "timespan": true, "condition": true, "generate": true}

var corrTypes = map[string]bool{EventCount: true, ValueCount: true, Temporal: true, TemporalOrdered: true, ValueSum: true, ValueAvg: true, ValuePercentile: true, ValueMedian: true}

var timespanRE = regexp.MustCompile(`^([0-9]+)([smhdwMy])$`)

// ParseTimespan parses a correlation timespan: an integer and one of s, m, h, d, w, M (30.44
// days) or y (365.25 days).
func ParseTimespan(s string) (time.Duration, error) {
	m := timespanRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("timespan %q: want an integer followed by s, m, h, d, w, M or y (e.g. 5m)", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("timespan %q: the number must be a positive integer", s)
	}
	unit := map[string]time.Duration{
		"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour,
		"M": time.Duration(30.44 * 24 * float64(time.Hour)), "y": time.Duration(365.25 * 24 * float64(time.Hour)),
	}[m[2]]
	if n > int64((100*365*24*time.Hour)/unit) {
		return 0, fmt.Errorf("timespan %q is longer than 100 years", s)
	}
	return time.Duration(n) * unit, nil
}

func (p *parser) correlation(d *yaml.Node) (*Correlation, *docError) {
	c := &Correlation{File: p.file, Pos: pos(d)}
	c.Meta = p.meta(d, map[string]bool{"correlation": true, "generate": true})
	ck, cv := lookup(d, "correlation")
	if cv == nil || cv.Kind != yaml.MappingNode {
		return nil, fail(pos(ck), "'correlation' must be a mapping with type, rules, group-by, timespan and condition")
	}
	for i := 0; i+1 < len(cv.Content); i += 2 {
		if k := cv.Content[i]; !corrKeys[k.Value] {
			return nil, fail(pos(k), "unknown key %q in 'correlation'", k.Value)
		}
	}
	misplaced := func(key string) string {
		if k, _ := lookup(d, key); k != nil {
			return fmt.Sprintf(" (a top-level '%s' was found at line %d: it belongs inside 'correlation:')", key, k.Line)
		}
		return ""
	}
	tk, tv := lookup(cv, "type")
	if tk == nil {
		return nil, fail(pos(ck), "correlation: missing 'type'%s", misplaced("type"))
	}
	c.Type, _ = scalarText(tv)
	if !corrTypes[c.Type] {
		return nil, fail(pos(tv), "correlation: unknown type %q (want event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile or value_median)", c.Type)
	}
	rk, rv := lookup(cv, "rules")
	if rk == nil {
		return nil, fail(pos(ck), "correlation: missing 'rules'%s", misplaced("rules"))
	}
	c.Rules = stringList(rv)
	if len(c.Rules) == 0 {
		return nil, fail(pos(rk), "correlation: 'rules' must list at least one rule id or name")
	}
	sk, sv := lookup(cv, "timespan")
	if sk == nil {
		return nil, fail(pos(ck), "correlation: missing 'timespan'%s", misplaced("timespan"))
	}
	c.TimespanText, _ = scalarText(sv)
	ts, err := ParseTimespan(c.TimespanText)
	if err != nil {
		return nil, fail(pos(sv), "correlation: %v", err)
	}
	c.Timespan = ts
	if gk, gv := lookup(cv, "group-by"); gk != nil {
		if gv != nil && gv.Kind == yaml.MappingNode {
			return nil, fail(pos(gk), "correlation: 'group-by' must be a list of field names")
		}
		c.GroupBy = stringList(gv)
	} else if m := misplaced("group-by"); m != "" {
		return nil, fail(pos(ck), "correlation: 'group-by'%s", m)
	}
	if ak, av := lookup(cv, "aliases"); ak != nil {
		if av == nil || av.Kind != yaml.MappingNode {
			return nil, fail(pos(ak), "correlation: 'aliases' must map each alias to {rule: field}")
		}
		c.Aliases = map[string]map[string]string{}
		for i := 0; i+1 < len(av.Content); i += 2 {
			name, m := av.Content[i].Value, deref(av.Content[i+1])
			if m == nil || m.Kind != yaml.MappingNode {
				return nil, fail(pos(av.Content[i]), "correlation: alias %q must map rule names to field names", name)
			}
			c.Aliases[name] = map[string]string{}
			for j := 0; j+1 < len(m.Content); j += 2 {
				f, ok := scalarText(m.Content[j+1])
				if !ok || f == "" {
					return nil, fail(pos(m.Content[j]), "correlation: alias %q: field for %q must be a field name", name, m.Content[j].Value)
				}
				c.Aliases[name][m.Content[j].Value] = f
			}
		}
	}
	condK, condV := lookup(cv, "condition")
	if condK != nil {
		if condV == nil || condV.Kind != yaml.MappingNode {
			return nil, fail(pos(condK), "correlation: 'condition' must be a mapping such as {gte: 10} (boolean expressions over rule names are not supported)")
		}
		for i := 0; i+1 < len(condV.Content); i += 2 {
			k, v := condV.Content[i], deref(condV.Content[i+1])
			switch k.Value {
			case "gt", "gte", "lt", "lte", "eq", "neq":
				s, _ := scalarText(v)
				f, err := strconv.ParseFloat(s, 64)
				if err != nil {
					return nil, fail(pos(v), "correlation: condition %s: %q is not a number", k.Value, s)
				}
				c.Ops = append(c.Ops, CondOp{k.Value, f})
			case "field":
				c.Fields = stringList(v)
				if len(c.Fields) == 0 {
					return nil, fail(pos(k), "correlation: condition field must name a field")
				}
			default:
				return nil, fail(pos(k), "correlation: unknown condition key %q (want gt, gte, lt, lte, eq, neq or field)", k.Value)
			}
		}
	}
	switch c.Type {
	case Temporal, TemporalOrdered:
		if len(c.Fields) > 0 {
			return nil, fail(pos(condK), "correlation: %s takes no condition field", c.Type)
		}
	default:
		if len(c.Ops) == 0 {
			return nil, fail(pos(ck), "correlation: %s needs a condition such as {gte: 10}", c.Type)
		}
		if c.Type == EventCount && len(c.Fields) > 0 {
			return nil, fail(pos(condK), "correlation: event_count takes no condition field")
		}
		if c.Type != EventCount && len(c.Fields) == 0 {
			return nil, fail(pos(condK), "correlation: %s needs a condition field", c.Type)
		}
		if c.Type != EventCount && c.Type != ValueCount && len(c.Fields) > 1 {
			return nil, fail(pos(condK), "correlation: %s takes one condition field", c.Type)
		}
	}
	gen := false
	for _, m := range []*yaml.Node{d, cv} {
		if gk, gv := lookup(m, "generate"); gk != nil {
			s, _ := scalarText(gv)
			if gv.ShortTag() != "!!bool" {
				return nil, fail(pos(gk), "correlation: 'generate' must be true or false, not %q", s)
			}
			gen = gen || strings.EqualFold(s, "true")
		}
	}
	c.Generate = gen
	if c.Title == "" {
		p.warnAt(pos(d), "correlation has no 'title'")
	}
	return c, nil
}

func (p *parser) filter(d *yaml.Node) (*Filter, *docError) {
	fl := &Filter{File: p.file, Pos: pos(d)}
	fl.Meta = p.meta(d, map[string]bool{"logsource": true, "filter": true})
	if fl.Title == "" {
		return nil, fail(pos(d), "missing 'title'")
	}
	ls, err := p.logsource(d, false)
	if err != nil {
		return nil, err
	}
	fl.Logsource = ls
	k, v := lookup(d, "filter")
	if v == nil || v.Kind != yaml.MappingNode {
		return nil, fail(pos(k), "'filter' must be a mapping with rules, search identifiers and a condition")
	}
	rk, rv := lookup(v, "rules")
	if rk == nil {
		return nil, fail(pos(k), "filter: missing 'rules' (the ids or names of the rules it applies to)")
	}
	fl.Rules = stringList(rv)
	if len(fl.Rules) == 0 {
		return nil, fail(pos(rk), "filter: 'rules' must list at least one rule id or name")
	}
	det, err := p.detection(k, v, map[string]bool{"rules": true})
	if err != nil {
		return nil, err
	}
	fl.Detection = *det
	return fl, nil
}
