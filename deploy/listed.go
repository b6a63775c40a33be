package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
)

// treePlan is what a deploy from a ListedSource's tree fetches: the files
// whose content no server needs are published by hash alone.
type treePlan struct {
	known      map[string]string // path -> sha256, for files not fetched
	files      int
	bytes      int64 // all files
	fetch      int
	fetchBytes int64
}

// beginListed lists the tree while the servers are prepared, then either
// fetches only what changed or reads the source as a whole, and says which
// in the log and in use.
func (o *op) beginListed(ctx context.Context, st *stage, ls ListedSource, meta releaseMeta, prepare func() error, use *SourceUse) error {
	type listing struct {
		entries []Entry
		err     error
	}
	listed := make(chan listing, 1)
	go func() {
		es, err := ls.List(ctx)
		listed <- listing{es, err}
	}()
	if err := prepare(); err != nil {
		return err
	}
	var l listing
	select {
	case l = <-listed:
	case <-ctx.Done():
		return ctx.Err()
	}
	reason := ""
	var plan treePlan
	if l.err != nil {
		reason = "the tree could not be listed: " + l.err.Error()
		if errors.Is(l.err, ErrNotListable) {
			reason = l.err.Error()
		}
	} else {
		plan, reason = o.planTree(l.entries, meta.shared)
	}
	// Either way the content read is hashed here, blob ids included, so
	// the content index learns it.
	st.gitIDs = true
	if reason != "" {
		use.Mode, use.Reason = SourceTarball, reason
		o.log.line("[source] ", "reading the whole tarball: "+reason)
		st.run(ctx, meta.shared, func(ctx context.Context) error { return st.readSource(ctx, ls) })
		return nil
	}
	use.Mode, use.FilesFetched, use.BytesFetched = SourceTree, plan.fetch, plan.fetchBytes
	o.log.line("[source] ", fmt.Sprintf("fetching %d of %d files (%s of %s) from the tree; every server has the other %d",
		plan.fetch, plan.files, FormatBytes(plan.fetchBytes), FormatBytes(plan.bytes), plan.files-plan.fetch))
	st.fetch, st.splitting = ls.Fetch, true
	st.run(ctx, meta.shared, func(ctx context.Context) error { return st.fromTree(ctx, ls, l.entries, plan) })
	return nil
}

// planTree decides, from the tree and what every server's live release
// holds, which files to fetch; it returns a reason to read the whole
// tarball instead when fetching file by file would not pay off. A file
// need not be fetched when the content index knows its blob and every
// server can hard-link that content from its live release (or a shared
// path covers it, and the index knows its hash for the manifest).
func (o *op) planTree(entries []Entry, shared []string) (treePlan, string) {
	limit := o.t.FetchChangedLimit
	if limit < 0 {
		return treePlan{}, "fetching changed files only is turned off for this environment"
	}
	plans := make([]linkPlan, len(o.runs))
	for i, r := range o.runs {
		if r.res.Base == "" {
			return treePlan{}, "there is no previous release on " + r.addr + " to take unchanged files from"
		}
		plans[i] = newLinkPlan(r.res.Base, r.base, r.baseShared)
	}
	index := o.e.contents()
	p := treePlan{known: map[string]string{}}
	for _, e := range entries {
		if e.Type != TypeFile {
			continue
		}
		p.files++
		p.bytes += e.Size
		sum, size, ok := index.lookup(e.BlobID)
		ok = ok && size == e.Size
		for i := 0; ok && i < len(plans) && !shadowed(e.Path, shared); i++ {
			ok = plans[i].links(ManifestEntry{Path: e.Path, Type: TypeFile, Mode: e.Mode.Perm(), SHA256: sum})
		}
		if ok {
			p.known[e.Path] = sum
			continue
		}
		p.fetch++
		p.fetchBytes += e.Size
	}
	if p.bytes > 0 && float64(p.fetchBytes) > limit*float64(p.bytes) {
		return p, fmt.Sprintf("%d of %d files (%s of %s, %.1f%%) are not on every server, above the %.0f%% limit",
			p.fetch, p.files, FormatBytes(p.fetchBytes), FormatBytes(p.bytes), 100*float64(p.fetchBytes)/float64(p.bytes), 100*limit)
	}
	return p, ""
}

// fromTree adds every entry of a listed tree: directories, symlinks and the
// files every server has first (servers start hard-linking at once), then
// the content of the others as it is fetched.
func (st *stage) fromTree(ctx context.Context, ls ListedSource, entries []Entry, plan treePlan) error {
	byID := map[string][]Entry{}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		switch sum := plan.known[e.Path]; {
		case e.Type != TypeFile:
			_, err = st.add(e, nil)
		case sum != "":
			err = st.addKnown(e, sum, -1)
		case e.BlobID == "":
			err = fmt.Errorf("source entry %q: the tree gives no blob id", e.Path)
		default:
			byID[e.BlobID] = append(byID[e.BlobID], e)
		}
		if err != nil {
			return err
		}
	}
	if err := st.publish(); err != nil {
		return err
	}
	st.markSplit()
	if len(byID) == 0 {
		return nil
	}
	err := ls.Fetch(ctx, slices.Sorted(maps.Keys(byID)), func(id string, r io.Reader) error {
		es, ok := byID[id]
		if !ok {
			return fmt.Errorf("blob %s was not asked for", id)
		}
		delete(byID, id)
		it, err := st.add(es[0], r)
		if err != nil {
			return err
		}
		for _, e := range es[1:] { // the same content at other paths
			if err := st.addKnown(e, it.SHA256, it.off); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("fetch changed files: %w", err)
	}
	if len(byID) > 0 {
		return fmt.Errorf("fetch changed files: %d blobs were not delivered", len(byID))
	}
	return nil
}
