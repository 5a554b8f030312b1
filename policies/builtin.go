package policies

import (
	"embed"
	"io/fs"
)

//go:embed rules
var builtinRules embed.FS

// BuiltinFS is the built-in rule pack (policies/rules, embedded in the binary): Sigma rule files
// and their *.test.yml cases.
func BuiltinFS() fs.FS {
	sub, err := fs.Sub(builtinRules, "rules")
	if err != nil {
		panic(err) // the embedded folder is fixed at build time
	}
	return sub
}
