package sigma

import (
	"fmt"
	"strings"
)

// modifier groups.
var (
	strMods  = map[string]bool{"contains": true, "startswith": true, "endswith": true}
	encMods  = map[string]bool{"base64": true, "base64offset": true, "utf16le": true, "wide": true, "utf16be": true, "utf16": true}
	utf16s   = map[string]bool{"utf16le": true, "wide": true, "utf16be": true, "utf16": true}
	reFlags  = map[string]bool{"i": true, "ignorecase": true, "m": true, "multiline": true, "s": true, "dotall": true}
	cmpMods  = map[string]bool{"gt": true, "gte": true, "lt": true, "lte": true}
	timeMods = map[string]bool{"minute": true, "hour": true, "day": true, "week": true, "month": true, "year": true}
	// others: all windash re cidr exists expand fieldref neq cased
)

// KnownModifier reports whether m is a Sigma value modifier this engine implements.
func KnownModifier(m string) bool {
	if strMods[m] || encMods[m] || reFlags[m] || cmpMods[m] || timeMods[m] {
		return true
	}
	switch m {
	case "all", "windash", "re", "cidr", "exists", "expand", "fieldref", "neq", "cased":
		return true
	}
	return false
}

// checkModifiers validates an item's modifier chain and the shape of its values. It returns
// warnings (accepted but dubious) and an error message when the item is refused.
func checkModifiers(it *Item) (warnings []string, msg string) {
	mods := it.Modifiers
	seen := map[string]bool{}
	count := func(group map[string]bool) (n int, names []string) {
		for _, m := range mods {
			if group[m] {
				n++
				names = append(names, m)
			}
		}
		return
	}
	for i, m := range mods {
		if m == "" {
			return nil, "empty modifier (a doubled '|') in " + quoteKey(it)
		}
		if !KnownModifier(m) {
			return nil, fmt.Sprintf("unknown modifier %q in %s", m, quoteKey(it))
		}
		if seen[m] {
			return nil, fmt.Sprintf("modifier %q used twice in %s", m, quoteKey(it))
		}
		seen[m] = true
		if (m == "re" || m == "cidr" || m == "exists" || timeMods[m]) && i != 0 {
			return nil, fmt.Sprintf("modifier %q must be the first modifier in %s", m, quoteKey(it))
		}
		if reFlags[m] && !seen["re"] {
			return nil, fmt.Sprintf("regular expression flag %q needs the 're' modifier before it in %s", m, quoteKey(it))
		}
	}
	for _, g := range []map[string]bool{strMods, utf16s, cmpMods, timeMods} {
		if n, names := count(g); n > 1 {
			return nil, fmt.Sprintf("modifiers %s cannot be combined in %s", strings.Join(names, " and "), quoteKey(it))
		}
	}
	if seen["base64"] && seen["base64offset"] {
		return nil, "modifiers base64 and base64offset cannot be combined in " + quoteKey(it)
	}
	allowedWith := func(head string, ok func(string) bool) string {
		for _, m := range mods {
			if m != head && !ok(m) {
				return fmt.Sprintf("modifier %q cannot be combined with %q in %s", m, head, quoteKey(it))
			}
		}
		return ""
	}
	switch {
	case seen["re"]:
		if e := allowedWith("re", func(m string) bool {
			return reFlags[m] || strMods[m] || m == "all" || m == "neq"
		}); e != "" {
			return nil, e
		}
	case seen["cidr"]:
		if e := allowedWith("cidr", func(m string) bool { return m == "all" || m == "neq" }); e != "" {
			return nil, e
		}
	case seen["exists"]:
		if len(mods) != 1 {
			return nil, "modifier 'exists' must be the only modifier in " + quoteKey(it)
		}
		if len(it.Values) != 1 || it.List || it.Values[0].Kind != Bool {
			return nil, "modifier 'exists' needs a single boolean value (true or false) in " + quoteKey(it)
		}
	case seen["fieldref"]:
		if e := allowedWith("fieldref", func(m string) bool {
			return strMods[m] || m == "neq" || m == "cased" || m == "all"
		}); e != "" {
			return nil, e
		}
	}
	if n, _ := count(timeMods); n == 1 {
		if e := allowedWith(mods[0], func(m string) bool { return cmpMods[m] || m == "neq" || m == "all" }); e != "" {
			return nil, e
		}
	}
	if n, names := count(cmpMods); n == 1 {
		if e := allowedWith(names[0], func(m string) bool { return timeMods[m] || m == "all" }); e != "" {
			return nil, e
		}
	}
	if seen["base64offset"] {
		after := false
		for i, m := range mods {
			if m == "base64offset" {
				for _, n := range mods[i+1:] {
					if n == "contains" {
						after = true
					}
				}
			}
		}
		if !after {
			return nil, "modifier 'base64offset' must be followed by 'contains' in " + quoteKey(it)
		}
	}
	if seen["windash"] && seen["all"] {
		return nil, "modifier 'windash' cannot be combined with 'all' in " + quoteKey(it)
	}
	if seen["all"] && (!it.List || len(it.Values) < 2) {
		return nil, "modifier 'all' needs a list of at least two values in " + quoteKey(it)
	}
	if seen["all"] && !it.Keyword && !seen["contains"] && !seen["re"] && !seen["fieldref"] && !seen["startswith"] && !seen["endswith"] && !seen["cidr"] && n(count(cmpMods)) == 0 {
		warnings = append(warnings, fmt.Sprintf("%s: 'all' without 'contains' requires the whole value to equal every listed value", quoteKey(it)))
	}
	if it.Keyword {
		for _, m := range mods {
			if m == "startswith" || m == "endswith" || m == "exists" || m == "cidr" || cmpMods[m] || timeMods[m] || m == "fieldref" || m == "neq" {
				return nil, fmt.Sprintf("modifier %q cannot be used on keywords (no field name) in %s", m, quoteKey(it))
			}
		}
	}
	for _, v := range it.Values {
		if v.Kind == Null {
			if len(it.Values) > 1 || it.List {
				return nil, "null inside a list in " + quoteKey(it) + " (write 'Field: null' alone, or use a separate identifier)"
			}
			for _, m := range mods {
				if m != "neq" {
					return nil, fmt.Sprintf("null value with modifier %q in %s", m, quoteKey(it))
				}
			}
			if it.Keyword {
				return nil, "null keyword"
			}
		}
	}
	return warnings, ""
}

func n(k int, _ []string) int { return k }

func quoteKey(it *Item) string {
	k := it.Field
	for _, m := range it.Modifiers {
		k += "|" + m
	}
	if k == "" {
		return "keywords"
	}
	return "'" + k + "'"
}
