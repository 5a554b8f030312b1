package service

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// Setting is one key of a configuration file: a string value, or a list of strings.
type Setting struct {
	Key   string
	Value string
	List  []string // used instead of Value when non-nil
}

// ReadConfig returns the string-valued keys of the YAML configuration file at path (lists are
// left out). A missing file gives an empty map and no error.
func ReadConfig(path string) (map[string]string, error) {
	out := map[string]string{}
	root, err := readMapping(path)
	if err != nil || root == nil {
		return out, err
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if v := root.Content[i+1]; v.Kind == yaml.ScalarNode {
			out[root.Content[i].Value] = v.Value
		}
	}
	return out, nil
}

func readMapping(path string) (*yaml.Node, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
		return nil, nil
	}
	if doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: the top level must be a mapping of settings (key: value)", path, doc.Content[0].Line)
	}
	return doc.Content[0], nil
}

// WriteConfig writes the YAML configuration file at path: the keys already in it are kept
// (with their comments), the settings given replace theirs or are appended in order. The file
// is replaced atomically and readable by its owner alone: 0600 and root's on Unix, an ACL for
// SYSTEM and Administrators on Windows. Its directory is created when missing.
func WriteConfig(path, comment string, settings []Setting) error {
	root, err := readMapping(path)
	if err != nil {
		return err
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode}
	if root == nil {
		root = &yaml.Node{Kind: yaml.MappingNode}
		doc.HeadComment = comment
	}
	doc.Content = []*yaml.Node{root}
	for _, s := range settings {
		v := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s.Value}
		if s.List != nil {
			v = &yaml.Node{Kind: yaml.SequenceNode}
			for _, item := range s.List {
				v.Content = append(v.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: item})
			}
		}
		replaced := false
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == s.Key {
				v.LineComment = root.Content[i+1].LineComment
				root.Content[i+1] = v
				replaced = true
			}
		}
		if !replaced {
			root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: s.Key}, v)
		}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return WriteSecret(path, buf.Bytes())
}

// WriteSecret writes data to path atomically, readable by its owner alone (0600 and root's on
// Unix when run as root; SYSTEM and Administrators on Windows). Its directory is created when
// missing.
func WriteSecret(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("config directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // gone after the rename; removes a failed write
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := restrict(tmp.Name(), false); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// MakePrivateDir creates dir (and its parents) when missing and restricts it to its owner: 0700
// and root's on Unix, SYSTEM and Administrators on Windows.
func MakePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if err := restrict(dir, true); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	return nil
}
