package deploy

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// contentIndex remembers, for git blob ids, the SHA-256 and size of their
// content. Only content this engine hashed itself goes in (a file it read
// or fetched, whose blob id it computed from the bytes), so an entry is as
// true as the hash functions: a server's own records are never trusted for
// it. It is a cache: a blob it does not know is fetched.
//
// On disk it is a text file of "<blob id> <sha256> <size>" lines,
// appended to after each deploy and rewritten, keeping the newest half,
// when it holds more than maxIndexEntries.
type contentIndex struct {
	mu    sync.Mutex
	path  string // "" keeps it in memory only
	m     map[[20]byte]contentSum
	order [][20]byte // first insertion order, for trimming
}

type contentSum struct {
	sha  [32]byte
	size int64
}

// maxIndexEntries bounds the index's memory (about 100 bytes an entry):
// several large repositories' worth of files and their recent changes.
const maxIndexEntries = 1 << 19

// contents returns the engine's content index, loading it on first use. A
// file that cannot be read leaves an empty index (logged): it is a cache.
func (e *Engine) contents() *contentIndex {
	e.indexOnce.Do(func() {
		e.index = &contentIndex{path: e.ContentIndexFile, m: map[[20]byte]contentSum{}}
		if err := e.index.load(); err != nil {
			e.logger().Warn("deploy: content index unreadable; starting empty", "file", e.ContentIndexFile, "err", err)
		}
	})
	return e.index
}

func (c *contentIndex) load() error {
	if c.path == "" {
		return nil
	}
	f, err := os.Open(c.path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	lines := 0
	for sc.Scan() {
		lines++
		if id, sum, ok := parseIndexLine(sc.Text()); ok {
			c.put(id, sum)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if lines > len(c.m) {
		return c.rewrite() // duplicates or damaged lines
	}
	return nil
}

func parseIndexLine(line string) ([20]byte, contentSum, bool) {
	var id [20]byte
	var sum contentSum
	f := strings.Fields(line)
	if len(f) != 3 || len(f[0]) != 40 || len(f[1]) != 64 {
		return id, sum, false
	}
	if _, err := hex.Decode(id[:], []byte(f[0])); err != nil {
		return id, sum, false
	}
	if _, err := hex.Decode(sum.sha[:], []byte(f[1])); err != nil {
		return id, sum, false
	}
	n, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || n < 0 {
		return id, sum, false
	}
	sum.size = n
	return id, sum, true
}

// put adds or replaces an entry; c.mu is held (or c is not shared yet).
func (c *contentIndex) put(id [20]byte, sum contentSum) bool {
	if old, ok := c.m[id]; ok {
		c.m[id] = sum
		return old != sum
	}
	c.m[id] = sum
	c.order = append(c.order, id)
	return true
}

// lookup returns the SHA-256 (hex) and size of blob id's content.
func (c *contentIndex) lookup(blobID string) (string, int64, bool) {
	var id [20]byte
	if len(blobID) != 40 {
		return "", 0, false
	}
	if _, err := hex.Decode(id[:], []byte(blobID)); err != nil {
		return "", 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	sum, ok := c.m[id]
	if !ok {
		return "", 0, false
	}
	return hex.EncodeToString(sum.sha[:]), sum.size, true
}

// record adds the blob ids and hashes of the content st read (those whose
// blob id it computed itself) and saves the new ones. A failure to save is
// only a cache miss later.
func (c *contentIndex) record(st *stage) error {
	st.mu.Lock()
	items := st.items
	st.mu.Unlock()
	var added []string
	c.mu.Lock()
	for _, it := range items {
		if it.Type != TypeFile || it.off < 0 || len(it.blobID) != 40 {
			continue
		}
		var id [20]byte
		var sum contentSum
		if _, err := hex.Decode(id[:], []byte(it.blobID)); err != nil {
			continue
		}
		if _, err := hex.Decode(sum.sha[:], []byte(it.SHA256)); err != nil {
			continue
		}
		sum.size = it.Size
		if c.put(id, sum) {
			added = append(added, fmt.Sprintf("%s %s %d\n", it.blobID, it.SHA256, it.Size))
		}
	}
	var err error
	switch {
	case len(c.m) > maxIndexEntries:
		drop := c.order[:len(c.order)-maxIndexEntries/2]
		for _, id := range drop {
			delete(c.m, id)
		}
		c.order = append([][20]byte(nil), c.order[len(drop):]...)
		err = c.rewrite()
	case len(added) > 0 && c.path != "":
		err = c.appendLines(added)
	}
	c.mu.Unlock()
	return err
}

func (c *contentIndex) appendLines(lines []string) error {
	f, err := os.OpenFile(c.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("content index: %w", err)
	}
	w := bufio.NewWriter(f)
	for _, l := range lines {
		_, _ = w.WriteString(l)
	}
	err = w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("content index %s: %w", c.path, err)
	}
	return nil
}

// rewrite replaces the file with the entries in memory (atomically).
func (c *contentIndex) rewrite() error {
	if c.path == "" {
		return nil
	}
	tmp := c.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("content index: %w", err)
	}
	w := bufio.NewWriter(f)
	for _, id := range c.order {
		sum := c.m[id]
		fmt.Fprintf(w, "%x %x %d\n", id[:], sum.sha[:], sum.size)
	}
	err = w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, c.path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("content index %s: %w", c.path, err)
	}
	return nil
}
