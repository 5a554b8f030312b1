package process

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

// osDetails reads a Windows process through gopsutil and adds the PE version resource of its
// executable (OriginalFileName, Product, Company, Description, FileVersion).
func (s *Source) osDetails(ctx context.Context, pid int) (*procInfo, error) {
	info, err := gopsInfo(ctx, pid)
	if err != nil {
		return nil, err
	}
	if info.Image != "" {
		info.Extra = peVersions.get(info.Image)
	}
	return info, nil
}

// peVersionFields maps the version resource's string names to Vigil's field names.
var peVersionFields = [...]struct{ key, field string }{
	{"OriginalFilename", "OriginalFileName"},
	{"ProductName", "Product"},
	{"CompanyName", "Company"},
	{"FileDescription", "Description"},
	{"FileVersion", "FileVersion"},
}

// peCache remembers version resources by (path, size, mtime), bounded like the hash cache.
type peCache struct {
	mu sync.Mutex
	m  map[fileKey]map[string]any
}

var peVersions = &peCache{m: make(map[fileKey]map[string]any)}

func (c *peCache) get(path string) map[string]any {
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	key := keyOf(path, fi)
	c.mu.Lock()
	v, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return v
	}
	v = readPEVersion(path)
	c.mu.Lock()
	if len(c.m) >= DefaultHashCacheEntries {
		clear(c.m)
	}
	c.m[key] = v
	c.mu.Unlock()
	return v
}

// readPEVersion reads the version resource strings of a PE file (nil when it has none).
func readPEVersion(path string) map[string]any {
	var zero windows.Handle
	size, err := windows.GetFileVersionInfoSize(path, &zero)
	if err != nil || size == 0 || size > 16<<20 {
		return nil
	}
	buf := make([]byte, size)
	if err := windows.GetFileVersionInfo(path, 0, size, unsafe.Pointer(&buf[0])); err != nil {
		return nil
	}
	// The translations the resource carries: (language, code page) pairs. Try them in order,
	// then the usual US English / Unicode pair.
	langs := []string{}
	var tp unsafe.Pointer
	var tlen uint32
	if err := windows.VerQueryValue(unsafe.Pointer(&buf[0]), `\VarFileInfo\Translation`, unsafe.Pointer(&tp), &tlen); err == nil && tlen >= 4 {
		pairs := unsafe.Slice((*uint16)(tp), tlen/2)
		for i := 0; i+1 < len(pairs); i += 2 {
			langs = append(langs, fmt.Sprintf("%04x%04x", pairs[i], pairs[i+1]))
		}
	}
	langs = append(langs, "040904b0", "040904e4")
	out := map[string]any{}
	for _, f := range peVersionFields {
		for _, lang := range langs {
			var vp unsafe.Pointer
			var vlen uint32
			if err := windows.VerQueryValue(unsafe.Pointer(&buf[0]), `\StringFileInfo\`+lang+`\`+f.key, unsafe.Pointer(&vp), &vlen); err != nil || vlen == 0 {
				continue
			}
			v := strings.TrimSpace(windows.UTF16PtrToString((*uint16)(vp)))
			if v != "" {
				out[f.field] = v
				break
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
