package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Disk is the durable Queue: one bbolt file. bbolt commits copy-on-write with an fsync of the
// data before the meta page that points at it, and checksums its meta pages, so a process
// killed at any instant (SIGKILL, power loss on an honest disk) reopens at the last committed
// transaction: an Append that returned is never lost, and a half-written one is never seen.
type Disk struct {
	mu       sync.Mutex
	db       *bolt.DB
	path     string
	maxBytes int64
	items    int64
	bytes    int64
	dropped  int64
	notify   notifier
	log      hclog.Logger
}

// DiskOptions configure OpenDisk.
type DiskOptions struct {
	// MaxBytes caps the queued items' size (<= 0: DefaultMaxBytes). The file itself may be up
	// to about twice that, since bbolt reuses freed pages rather than shrinking.
	MaxBytes int64
	// Logger receives the corrupt-file notice; optional.
	Logger hclog.Logger
	// LockTimeout bounds the wait for another process holding the file (default 2 s).
	LockTimeout time.Duration
}

var (
	bucketItems = []byte("items")
	bucketMeta  = []byte("meta")
	keyDropped  = []byte("dropped")
)

// OpenDisk opens (or creates) the queue file at path. A file that is not a valid queue (torn
// by a disk fault, truncated, overwritten) is renamed to path.corrupt-<time> with an error log
// line naming both files, and a fresh queue is started in its place; a file another process
// holds is an error.
func OpenDisk(path string, o DiskOptions) (*Disk, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = 2 * time.Second
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	d := &Disk{path: path, maxBytes: o.MaxBytes, notify: newNotifier(), log: o.Logger}
	err := d.open(o.LockTimeout)
	if err == nil {
		return d, nil
	}
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("queue %s: held by another process (is another agent running on this state folder?)", path)
	}
	aside := fmt.Sprintf("%s.corrupt-%s", path, time.Now().UTC().Format("20060102T150405Z"))
	if rerr := os.Rename(path, aside); rerr != nil {
		return nil, fmt.Errorf("queue %s: %v; and it cannot be set aside: %w", path, err, rerr)
	}
	o.Logger.Error("queue file is corrupt: set aside, starting a fresh queue (its items are lost)", "file", path, "set_aside", aside, "error", err)
	if err := d.open(o.LockTimeout); err != nil {
		return nil, fmt.Errorf("queue %s: fresh queue: %w", path, err)
	}
	return d, nil
}

// open opens the file and reads every item once (which visits every page of the queue's tree)
// to count them. bbolt panics on damaged pages and faults on a truncated file; both are turned into an error here so the file
// can be set aside. (bbolt's own Tx.Check panics in a goroutine of its own, out of reach.)
func (d *Disk) open(lockTimeout time.Duration) (err error) {
	var db *bolt.DB
	// bbolt reads the file through mmap: a truncated file faults rather than fails. Make such
	// a fault in this goroutine a panic, recovered below like bbolt's own assertions.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("damaged page: %v", r)
		}
		if err != nil && db != nil {
			db.Close()
		}
	}()
	db, err = bolt.Open(d.path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketItems)
		if err != nil {
			return err
		}
		m, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if v := m.Get(keyDropped); len(v) == 8 {
			d.dropped = int64(binary.BigEndian.Uint64(v))
		}
		d.items, d.bytes = 0, 0
		return b.ForEach(func(k, v []byte) error {
			it, err := decode(k, v)
			if err != nil {
				return err
			}
			d.items++
			d.bytes += it.Size()
			return nil
		})
	})
	if err != nil {
		return err
	}
	d.db = db
	return nil
}

func encodeValue(it Item) []byte {
	v := make([]byte, 0, 1+len(it.Kind)+len(it.Data))
	v = append(v, byte(len(it.Kind)))
	v = append(v, it.Kind...)
	return append(v, it.Data...)
}

func decode(k, v []byte) (Item, error) {
	if len(k) != 8 || len(v) == 0 || int(v[0]) > len(v)-1 {
		return Item{}, fmt.Errorf("malformed item (key %x, %d bytes)", k, len(v))
	}
	n := int(v[0])
	return Item{Seq: binary.BigEndian.Uint64(k), Kind: string(v[1 : 1+n]), Data: append([]byte(nil), v[1+n:]...)}, nil
}

// valueSize is Item.Size of a stored value (its kind's length byte is not counted).
func valueSize(v []byte) int64 { return int64(len(v)-1) + itemOverhead }

func seqKey(s uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], s)
	return k[:]
}

// Append implements Queue: the items and any drop are one transaction.
func (d *Disk) Append(items ...Item) error {
	if err := checkSizes(items, d.maxBytes); err != nil {
		return err
	}
	for i, it := range items {
		if len(it.Kind) > 255 {
			return fmt.Errorf("queue: item %d: kind longer than 255 bytes", i)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.db == nil {
		return ErrClosed
	}
	nItems, nBytes, nDropped := d.items, d.bytes, d.dropped
	err := d.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketItems)
		for _, it := range items {
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			if err := b.Put(seqKey(seq), encodeValue(it)); err != nil {
				return err
			}
			nItems++
			nBytes += it.Size()
		}
		if nBytes <= d.maxBytes {
			return nil
		}
		// Collect first: deleting under a cursor and moving on can skip keys in bbolt.
		var drop [][]byte
		c := b.Cursor()
		for k, v := c.First(); k != nil && nBytes > d.maxBytes; k, v = c.Next() {
			drop = append(drop, append([]byte(nil), k...))
			nItems--
			nBytes -= valueSize(v)
			nDropped++
		}
		for _, k := range drop {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keyDropped, seqKey(uint64(nDropped)))
	})
	if err != nil {
		return fmt.Errorf("queue append: %w", err)
	}
	d.items, d.bytes, d.dropped = nItems, nBytes, nDropped
	d.notify.signal()
	return nil
}

// Peek implements Queue.
func (d *Disk) Peek(maxItems int, maxBytes int64) ([]Item, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.db == nil {
		return nil, ErrClosed
	}
	var out []Item
	err := d.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketItems).Cursor()
		var size int64
		for k, v := c.First(); k != nil && len(out) < maxItems; k, v = c.Next() {
			it, err := decode(k, v)
			if err != nil {
				return err
			}
			if len(out) > 0 && size+it.Size() > maxBytes {
				break
			}
			size += it.Size()
			out = append(out, it)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("queue peek: %w", err)
	}
	return out, nil
}

// Ack implements Queue.
func (d *Disk) Ack(seqs ...uint64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.db == nil {
		return ErrClosed
	}
	nItems, nBytes := d.items, d.bytes
	err := d.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketItems)
		for _, s := range seqs {
			k := seqKey(s)
			v := b.Get(k)
			if v == nil {
				continue
			}
			if err := b.Delete(k); err != nil {
				return err
			}
			nItems--
			nBytes -= valueSize(v)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue ack: %w", err)
	}
	d.items, d.bytes = nItems, nBytes
	return nil
}

// Stats implements Queue.
func (d *Disk) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return Stats{Items: d.items, Bytes: d.bytes, Dropped: d.dropped}
}

// Notify implements Queue.
func (d *Disk) Notify() <-chan struct{} { return d.notify }

// Path is the queue file.
func (d *Disk) Path() string { return d.path }

// Close implements Queue.
func (d *Disk) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.db == nil {
		return nil
	}
	err := d.db.Close()
	d.db = nil
	return err
}
