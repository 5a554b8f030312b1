package policies

import "testing"

// The embedded pack is the folder policies/rules, loaded the way the agent and `--builtin` do.
func TestBuiltinFSLoads(t *testing.T) {
	rs, problems, err := LoadFS(BuiltinFS(), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("built-in pack: %v", p)
	}
	disk, _, err := LoadPaths([]string{"rules"}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rs.Len() == 0 || rs.Len() != disk.Len() {
		t.Errorf("embedded pack has %d rules, the folder %d", rs.Len(), disk.Len())
	}
}
