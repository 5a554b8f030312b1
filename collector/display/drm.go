package display

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ReadDRM lists the connected displays of root/class/drm (root stands for /sys): each
// card*-<connector> folder whose status is "connected", with its edid file. A connected
// connector with an empty or unreadable EDID is still listed, with the reason in Err.
func ReadDRM(root string) ([]Display, error) {
	dir := filepath.Join(root, "class", "drm")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var out []Display
	for _, e := range ents {
		name := e.Name()
		card, conn, ok := strings.Cut(name, "-")
		if !ok || !strings.HasPrefix(card, "card") || conn == "" {
			continue // card0 itself, renderD128, version...
		}
		cdir := filepath.Join(dir, name)
		st, err := readSmall(filepath.Join(cdir, "status"), 64)
		if err != nil || strings.TrimSpace(string(st)) != "connected" {
			continue
		}
		raw, err := readSmall(filepath.Join(cdir, "edid"), maxEDIDBytes)
		switch {
		case err != nil:
			out = append(out, Display{Connector: conn, Err: fmt.Errorf("read EDID: %w", err)})
		case len(raw) == 0:
			out = append(out, Display{Connector: conn, Err: fmt.Errorf("%w: the connector reports no EDID", ErrShort)})
		default:
			out = append(out, FromEDID(conn, raw))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Connector < out[j].Connector })
	return out, nil
}

func readSmall(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}
