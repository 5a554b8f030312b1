package policy

import (
	"strings"
)

// document is one YAML document of a rule file, with the line it starts on (1-based).
type document struct {
	Line int
	Text string
}

// splitDocuments splits a multi-document YAML file on its "---" separator lines.
func splitDocuments(content string) []document {
	var out []document
	lines := strings.SplitAfter(content, "\n")
	start := 1
	var cur strings.Builder
	flush := func() {
		if strings.TrimSpace(cur.String()) != "" {
			out = append(out, document{Line: start, Text: cur.String()})
		}
		cur.Reset()
	}
	for i, l := range lines {
		t := strings.TrimRight(l, "\r\n")
		if t == "---" || strings.HasPrefix(t, "--- ") || t == "..." {
			flush()
			start = i + 2
			continue
		}
		cur.WriteString(l)
	}
	flush()
	return out
}

// documentAt returns the document of content holding line (the whole content when none does).
func documentAt(content string, line int) string {
	docs := splitDocuments(content)
	for i, d := range docs {
		end := int(^uint(0) >> 1)
		if i+1 < len(docs) {
			end = docs[i+1].Line - 1
		}
		if line >= d.Line && line <= end {
			return d.Text
		}
	}
	return content
}
