// Package ruledoc renders a rule set as Markdown reference documentation: every rule and
// correlation with its id, title, level, what it catches and its false positives, grouped by the
// folder it lives in. docs/rules.md is its output for the built-in pack (`vigil policy docs
// --builtin`).
package ruledoc

import (
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/vigilhq/vigil/policies"
)

// families gives the folders of the built-in pack a heading and an introduction.
var families = map[string][2]string{
	"ipkvm":         {"IP-KVMs", "Hardware that drives the laptop from elsewhere: IP-KVM USB identities and shapes, their EDIDs, their MAC prefixes on the local network, hardware mouse jigglers."},
	"remote_access": {"Remote-access tools", "Remote-desktop and RMM software running, listening or reaching its relays, per OS."},
	"combos":        {"Combinations", "Correlations that raise the level when signs appear together on one host."},
	"staging":       {"Data staging", "Files gathered, archived, encrypted or copied out in volume. Thresholds live in each correlation's `condition:`; the description says how to tune them."},
	"vpn":           {"VPNs", "Astrill (named in laptop-farm cases) and consumer VPN clients."},
	"jiggler":       {"Mouse jigglers and anti-sleep software", "Software that keeps an unattended laptop awake and online."},
	"host":          {"Host settings", "Weak signals from the host's settings, low alone and raised by combinations."},
}

var familyOrder = []string{"ipkvm", "remote_access", "combos", "staging", "vpn", "jiggler", "host"}

// Write renders rs as Markdown to w.
func Write(w io.Writer, rs *policies.Ruleset) error {
	infos := rs.Rules()
	names := map[string]string{}
	for _, ri := range infos {
		if ri.Name != "" {
			names[ri.ID] = ri.Name
		}
	}
	byFamily := map[string][]policies.RuleInfo{}
	for _, ri := range infos {
		fam := strings.SplitN(path.Clean(strings.ReplaceAll(ri.File, `\`, "/")), "/", 2)[0]
		if !strings.Contains(ri.File, "/") && !strings.Contains(ri.File, `\`) {
			fam = "other"
		}
		byFamily[fam] = append(byFamily[fam], ri)
	}
	order := append([]string(nil), familyOrder...)
	var extra []string
	for fam := range byFamily {
		if _, known := families[fam]; !known {
			extra = append(extra, fam)
		}
	}
	sort.Strings(extra)
	order = append(order, extra...)

	b := &strings.Builder{}
	fmt.Fprintf(b, "# Built-in rules\n\n")
	fmt.Fprintf(b, "Generated from `policies/rules` by `vigil policy docs --builtin`; do not edit by hand.\n\n")
	counts := map[string]int{}
	shown := 0
	for _, ri := range infos {
		if !ri.Silent {
			counts[ri.Level]++
			shown++
		}
	}
	fmt.Fprintf(b, "%d rules and correlations raise findings:", shown)
	lvls := policies.Levels()
	slices.Reverse(lvls)
	for _, lvl := range lvls {
		if counts[lvl] > 0 {
			fmt.Fprintf(b, " %d %s,", counts[lvl], lvl)
		}
	}
	s := strings.TrimSuffix(b.String(), ",")
	b.Reset()
	b.WriteString(s)
	fmt.Fprintf(b, ". %d more are building blocks that only feed correlations.\n\n", len(infos)-shown)
	b.WriteString("Levels mean: **critical**, a near-certain sign of the fraud pattern; **high**, a strong sign that needs action; **medium**, suspicious, worth review in context; **low**, weak alone; **informational**, inventory.\n\n")
	for _, fam := range order {
		list := byFamily[fam]
		if len(list) == 0 {
			continue
		}
		head, intro := fam, ""
		if f, ok := families[fam]; ok {
			head, intro = f[0], f[1]
		}
		fmt.Fprintf(b, "## %s\n\n", head)
		if intro != "" {
			fmt.Fprintf(b, "%s\n\n", intro)
		}
		sort.SliceStable(list, func(i, j int) bool {
			if ri, rj := policies.LevelRank(list[i].Level), policies.LevelRank(list[j].Level); ri != rj {
				return ri > rj
			}
			return list[i].Title < list[j].Title
		})
		b.WriteString("| level | rule | logsource |\n|---|---|---|\n")
		for _, ri := range list {
			fmt.Fprintf(b, "| %s | [%s](#%s) | %s |\n", levelOf(ri), cell(ri.Title), anchor(ri), cell(logsource(ri)))
		}
		b.WriteString("\n")
		for _, ri := range list {
			fmt.Fprintf(b, "<a id=\"%s\"></a>\n### %s\n\n", anchor(ri), ri.Title)
			fmt.Fprintf(b, "- **id** `%s`", ri.ID)
			if ri.Name != "" {
				fmt.Fprintf(b, ", **name** `%s`", ri.Name)
			}
			fmt.Fprintf(b, "; **level** %s; **%s**\n", levelOf(ri), logsource(ri))
			if len(ri.Tags) > 0 {
				fmt.Fprintf(b, "- **tags** %s\n", strings.Join(ri.Tags, ", "))
			}
			if len(ri.Uses) > 0 {
				fmt.Fprintf(b, "- **uses** %s\n", strings.Join(quoted(ri.Uses, names), ", "))
			}
			fmt.Fprintf(b, "- **file** `%s`\n\n", ri.File)
			if d := strings.TrimSpace(ri.Description); d != "" {
				fmt.Fprintf(b, "%s\n\n", d)
			}
			if len(ri.FalsePositives) > 0 {
				b.WriteString("False positives:\n")
				for _, fp := range ri.FalsePositives {
					fmt.Fprintf(b, "- %s\n", strings.TrimSpace(fp))
				}
				b.WriteString("\n")
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func levelOf(ri policies.RuleInfo) string {
	lvl := ri.Level
	if lvl == "" {
		lvl = "-"
	}
	if ri.Silent {
		return lvl + " (building block)"
	}
	return lvl
}

func logsource(ri policies.RuleInfo) string {
	if ri.Kind == "correlation" {
		return "correlation: " + ri.CorrelationType
	}
	var parts []string
	for _, p := range []string{ri.Logsource.Product, ri.Logsource.Category, ri.Logsource.Service} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " / ")
}

func anchor(ri policies.RuleInfo) string {
	if ri.Name != "" {
		return strings.ReplaceAll(ri.Name, "_", "-")
	}
	return ri.ID
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// quoted names each id by its rule name where it has one.
func quoted(ids []string, names map[string]string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		if n := names[id]; n != "" {
			id = n
		}
		out[i] = "`" + id + "`"
	}
	return out
}
