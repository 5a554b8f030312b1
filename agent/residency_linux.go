package agent

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// dropExecutablePages unmaps the resident pages of this process's read-only mappings of its own
// executable (madvise MADV_DONTNEED) and returns how many bytes were resident there. Only
// mappings that hold no private copy of a page (smaps Anonymous: 0; a position-independent
// build's relocated read-only data has one) are touched: those are plain page-cache pages,
// which a later access maps again.
func dropExecutablePages() (int64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("executable path: %w", err)
	}
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return 0, fmt.Errorf("read /proc/self/smaps: %w", err)
	}
	var dropped int64
	for _, m := range parseSmaps(data) {
		if !m.droppable(exe) {
			continue
		}
		// The range is not Go memory: a raw call, no slice over it.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_DONTNEED); errno != 0 {
			return dropped, fmt.Errorf("madvise %x-%x: %w", m.start, m.end, errno)
		}
		dropped += m.rss
	}
	return dropped, nil
}

// smapsEntry is one mapping of /proc/self/smaps with the sizes used here (bytes).
type smapsEntry struct {
	start, end uintptr
	perms      string
	path       string
	rss, anon  int64
}

// droppable: a private, read-only mapping of exe with resident pages, none of them a private copy.
func (m smapsEntry) droppable(exe string) bool {
	return m.path == exe && !strings.ContainsRune(m.perms, 'w') && strings.HasSuffix(m.perms, "p") && m.anon == 0 && m.rss > 0
}

// parseSmaps reads the mappings of a smaps file. Lines it does not know are skipped.
func parseSmaps(data []byte) []smapsEntry {
	var out []smapsEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if lo, hi, ok := strings.Cut(f[0], "-"); ok && len(f) >= 5 && !strings.HasSuffix(f[0], ":") {
			s, err1 := strconv.ParseUint(lo, 16, 64)
			e, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 == nil && err2 == nil && e > s {
				m := smapsEntry{start: uintptr(s), end: uintptr(e), perms: f[1]}
				if len(f) >= 6 {
					m.path = strings.Join(f[5:], " ")
				}
				out = append(out, m)
				continue
			}
		}
		if len(out) == 0 || len(f) < 2 {
			continue
		}
		kb, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "Rss:":
			out[len(out)-1].rss = kb << 10
		case "Anonymous:":
			out[len(out)-1].anon = kb << 10
		}
	}
	return out
}
