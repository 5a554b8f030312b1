package imageload

import (
	"bytes"
	"path"
	"strings"
)

// mapping is one file-backed mapping of /proc/<pid>/maps.
type mapping struct {
	path string
	exec bool
}

// parseMaps lists the files mapped in a /proc/<pid>/maps text, in address order, each once:
// the pathname column of lines whose pathname is absolute (pseudo-mappings such as [heap] and
// anonymous ones are left out), without the kernel's " (deleted)" suffix. exec is true when any
// of the file's mappings is executable.
func parseMaps(data []byte) []mapping {
	var out []mapping
	index := map[string]int{}
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		// address perms offset dev inode pathname; the pathname may hold spaces.
		f := 0
		i := 0
		for f < 5 && i < len(line) {
			for i < len(line) && line[i] != ' ' {
				i++
			}
			for i < len(line) && line[i] == ' ' {
				i++
			}
			f++
		}
		if f < 5 || i >= len(line) || line[i] != '/' {
			continue
		}
		p := strings.TrimSuffix(string(line[i:]), " (deleted)")
		perms := line[bytes.IndexByte(line, ' ')+1:]
		exec := len(perms) >= 3 && perms[2] == 'x'
		if j, ok := index[p]; ok {
			out[j].exec = out[j].exec || exec
			continue
		}
		index[p] = len(out)
		out = append(out, mapping{path: p, exec: exec})
	}
	return out
}

// isSharedObject tells whether a mapped file is a shared object by its name (lib.so,
// lib.so.1.2, ld-linux-x86-64.so.2).
func isSharedObject(p string) bool {
	b := path.Base(p)
	i := strings.Index(b, ".so")
	return i > 0 && (len(b) == i+3 || b[i+3] == '.')
}

// isLoader tells whether an executable is the dynamic loader itself (`ld-linux-x86-64.so.2
// /usr/bin/prog` runs prog without exec'ing it).
func isLoader(image string) bool {
	b := path.Base(image)
	return strings.HasPrefix(b, "ld-linux") || strings.HasPrefix(b, "ld-musl") || (strings.HasPrefix(b, "ld-") && isSharedObject(b))
}

// loaded returns what a process loaded beyond its own executable: shared objects, and any other
// executable mapping (the program a loader runs, a plugin without the .so name).
// stillLoading tells whether maps show a dynamically linked process whose loader is still
// mapping its libraries: the glibc loader (ld-linux) is mapped and libc is not yet. libc comes
// last among a program's direct dependencies (the linker puts it at the end), and the loader
// maps the direct dependencies first, so once libc is there the libraries the rules look for
// (libvncserver, FreeRDP's, xrdp's) are too. musl's loader is its libc: never loading.
func stillLoading(maps []mapping) bool {
	loader, libc := false, false
	for _, m := range maps {
		b := path.Base(m.path)
		switch {
		case strings.HasPrefix(b, "ld-linux"):
			loader = true
		case strings.HasPrefix(b, "libc.so") || strings.HasPrefix(b, "libc-"):
			libc = true
		}
	}
	return loader && !libc
}

func loaded(maps []mapping, image string) []string {
	var out []string
	for _, m := range maps {
		if m.path == image {
			continue
		}
		if isSharedObject(m.path) || m.exec {
			out = append(out, m.path)
		}
	}
	return out
}
