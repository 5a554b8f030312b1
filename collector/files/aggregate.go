package files

import (
	"path/filepath"
	"sort"
	"time"
)

// aggregator folds bursts into per-directory windows. A directory's window opens at the first
// reportable file activity in it and lasts window. Within it the first dirLimit files are reported
// individually (while the global budget of globalLimit individual events per window lasts); the
// rest are only counted. When the window closes and at least one file in it was not reported on
// its own, one aggregate covers every distinct file of the window (including those reported
// individually), with sizes taken by stat at the window's end.
//
// It is not safe for concurrent use; the Source serialises calls.
type aggregator struct {
	window      time.Duration
	dirLimit    int
	globalLimit int
	maxTracked  int // distinct names held over all open windows; past it sizes are summed as seen

	dirs        map[string]*dirWindow
	tracked     int
	globalStart time.Time
	globalCount int
}

type dirWindow struct {
	start      time.Time
	last       time.Time        // the latest file activity
	files      map[string]int64 // base name -> size when classified
	deleted    map[string]struct{}
	suppressed int
	individual int
	// overflow: files past maxTracked, counted with the size seen at classification time.
	overflowFiles int
	overflowBytes int64
}

// aggregate is one closed window's summary. Last is the window's latest file activity: the
// time of the aggregate's event, so that it is ordered before what followed the burst (an
// archive made from the files) although it is emitted when the window closes.
type aggregate struct {
	Dir          string
	Start, End   time.Time
	Last         time.Time
	FileCount    int
	TotalBytes   int64
	DeletedCount int
}

// minAggregate is how many files a window needs for an aggregate when every one of them was
// also reported on its own: a slow copy (a few files a second, each window under the per-folder
// budget) still adds up in the aggregates' FileCount, which the staging rules sum.
const minAggregate = 3

func newAggregator(window time.Duration, dirLimit, globalLimit, maxTracked int) *aggregator {
	return &aggregator{window: window, dirLimit: dirLimit, globalLimit: globalLimit, maxTracked: maxTracked,
		dirs: map[string]*dirWindow{}}
}

// add records a settled file (deleted: it is gone) at now. force marks a file reported on its own
// whatever the budgets (archives). It returns whether the caller should emit the file's own event.
func (a *aggregator) add(path string, size int64, deleted, force bool, now time.Time) bool {
	dir, name := filepath.Dir(path), filepath.Base(path)
	w := a.dirs[dir]
	if w == nil {
		w = &dirWindow{start: now, files: map[string]int64{}}
		a.dirs[dir] = w
	}
	w.last = now
	if deleted {
		if w.deleted == nil {
			w.deleted = map[string]struct{}{}
		}
		if _, dup := w.deleted[name]; !dup {
			if a.tracked < a.maxTracked {
				w.deleted[name] = struct{}{}
				a.tracked++
			}
		}
		if _, had := w.files[name]; had {
			delete(w.files, name)
			a.tracked--
		}
	} else if _, dup := w.files[name]; !dup {
		if a.tracked < a.maxTracked {
			w.files[name] = size
			a.tracked++
		} else {
			w.overflowFiles++
			w.overflowBytes += size
		}
	}
	if now.Sub(a.globalStart) >= a.window {
		a.globalStart, a.globalCount = now, 0
	}
	if force {
		w.individual++
		return true
	}
	if w.individual < a.dirLimit && a.globalCount < a.globalLimit {
		w.individual++
		a.globalCount++
		return true
	}
	w.suppressed++
	return false
}

// open reports whether any window is open (the Source keeps its timer running while so).
func (a *aggregator) open() bool { return len(a.dirs) > 0 }

// due closes the windows that ended by now and returns the aggregates to emit, sorted by
// directory. size stats a file at the window's end (ok false: it is gone and not counted).
func (a *aggregator) due(now time.Time, size func(path string) (int64, bool)) []aggregate {
	var out []aggregate
	for dir, w := range a.dirs {
		end := w.start.Add(a.window)
		if now.Before(end) {
			continue
		}
		delete(a.dirs, dir)
		a.tracked -= len(w.files) + len(w.deleted)
		if w.suppressed == 0 && len(w.files)+w.overflowFiles < minAggregate {
			continue // a file or two, each reported on its own
		}
		ag := aggregate{Dir: dir, Start: w.start, End: end, Last: w.last, DeletedCount: len(w.deleted),
			FileCount: w.overflowFiles, TotalBytes: w.overflowBytes}
		for name := range w.files {
			if n, ok := size(filepath.Join(dir, name)); ok {
				ag.FileCount++
				ag.TotalBytes += n
			}
		}
		out = append(out, ag)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Dir < out[j].Dir })
	return out
}

// forget drops the windows of directories under root (a removed root).
func (a *aggregator) forget(root string) {
	for dir, w := range a.dirs {
		if within(dir, root) {
			a.tracked -= len(w.files) + len(w.deleted)
			delete(a.dirs, dir)
		}
	}
}
