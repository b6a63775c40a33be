package deploy

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"slices"
	"strconv"
)

// content returns a reader of a staged content.
func (st *stage) content(it stageItem) (*io.SectionReader, error) {
	if it.off < 0 {
		return nil, fmt.Errorf("content of %s was not staged", it.Path)
	}
	return io.NewSectionReader(st.spool, it.off, it.Size), nil
}

// ensureContent returns items with their content staged, fetching the
// content of files that were not read (once the stage is done). Fetched
// content must have the blob id and the SHA-256 its item says.
func (st *stage) ensureContent(ctx context.Context, items []stageItem) ([]stageItem, error) {
	st.extraMu.Lock()
	defer st.extraMu.Unlock()
	out := append([]stageItem(nil), items...)
	byID := map[string][]int{}
	for i, it := range out {
		if it.off >= 0 {
			continue
		}
		if off, ok := st.blobs[it.SHA256]; ok {
			out[i].off = off
			continue
		}
		if it.blobID == "" || st.fetch == nil {
			return nil, fmt.Errorf("content of %s is not at hand", it.Path)
		}
		byID[it.blobID] = append(byID[it.blobID], i)
	}
	if len(byID) == 0 {
		return out, nil
	}
	st.gitIDs = true
	err := st.fetch(ctx, slices.Sorted(maps.Keys(byID)), func(id string, r io.Reader) error {
		idx, ok := byID[id]
		if !ok {
			return fmt.Errorf("blob %s was not asked for", id)
		}
		want := out[idx[0]]
		sum, got, off, err := st.store(r, want.Size)
		switch {
		case err != nil:
			return fmt.Errorf("blob %s of %s: %w", id, want.Path, err)
		case got != id:
			return fmt.Errorf("blob %s of %s: content is blob %s", id, want.Path, got)
		case sum != want.SHA256:
			return fmt.Errorf("blob %s of %s: content has sha256 %s, the manifest says %s", id, want.Path, sum, want.SHA256)
		}
		for _, i := range idx {
			out[i].off = off
		}
		delete(byID, id)
		return nil
	})
	if err == nil {
		err = st.w.Flush()
	}
	if err == nil && len(byID) > 0 {
		err = fmt.Errorf("%d blobs were not fetched", len(byID))
	}
	if err != nil {
		return nil, fmt.Errorf("fetch content to send anew: %w", err)
	}
	return out, nil
}

// store appends exactly size bytes to the spool, keeping one copy of each
// distinct content, and returns the content's sha256, its git blob id (if
// st.gitIDs) and its offset.
func (st *stage) store(r io.Reader, size int64) (sum, blobID string, off int64, err error) {
	if r == nil {
		return "", "", 0, errors.New("file without content")
	}
	if size < 0 {
		return "", "", 0, fmt.Errorf("negative size %d", size)
	}
	var git hash.Hash
	if st.gitIDs {
		git = sha1.New()
		_, _ = io.WriteString(git, "blob "+strconv.FormatInt(size, 10)+"\x00")
	}
	if size <= smallContent {
		data := st.buf[:size]
		if _, err := io.ReadFull(r, data); err != nil {
			return "", "", 0, fmt.Errorf("content shorter than its header's %d bytes: %w", size, err)
		}
		if extra(r) {
			return "", "", 0, fmt.Errorf("content longer than its header's %d bytes", size)
		}
		sumb := sha256.Sum256(data)
		sum = hex.EncodeToString(sumb[:])
		if git != nil {
			git.Write(data)
			blobID = hex.EncodeToString(git.Sum(nil))
		}
		if off, dup := st.blobs[sum]; dup {
			return sum, blobID, off, nil
		}
		if _, err := st.w.Write(data); err != nil {
			return "", "", 0, err
		}
		off = st.end
		st.blobs[sum] = off
		st.end += size
		return sum, blobID, off, nil
	}
	if err := st.w.Flush(); err != nil {
		return "", "", 0, err
	}
	h := sha256.New()
	sink := io.MultiWriter(st.spool, h)
	if git != nil {
		sink = io.MultiWriter(st.spool, h, git)
	}
	n, err := io.CopyBuffer(sink, r, st.buf) // st.buf is free: this content is over smallContent
	if err == nil && n != size {
		err = fmt.Errorf("content is %d bytes, header says %d", n, size)
	}
	if err != nil {
		return "", "", 0, err
	}
	sum = hex.EncodeToString(h.Sum(nil))
	if git != nil {
		blobID = hex.EncodeToString(git.Sum(nil))
	}
	if off, dup := st.blobs[sum]; dup {
		// Drop the second copy; nothing published refers to it.
		if err := st.spool.Truncate(st.end); err != nil {
			return "", "", 0, err
		}
		if _, err := st.spool.Seek(st.end, io.SeekStart); err != nil {
			return "", "", 0, err
		}
		return sum, blobID, off, nil
	}
	off = st.end
	st.blobs[sum] = off
	st.end += n
	return sum, blobID, off, nil
}

// extra reports whether r has more bytes.
func extra(r io.Reader) bool {
	var b [1]byte
	n, _ := r.Read(b[:])
	return n > 0
}
