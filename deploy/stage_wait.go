package deploy

import "context"

// fail records why the stage cannot complete; the first reason stays.
func (st *stage) fail(err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.err == nil && !st.done {
		st.err = err
		st.wake()
	}
}

// failure is the stage's error, if it failed.
func (st *stage) failure() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.err
}

// isDone reports whether the whole source was read and validated.
func (st *stage) isDone() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.done
}

// await blocks until ready(st) holds (checked with st.mu held), the stage
// failed or ctx ended.
func (st *stage) await(ctx context.Context, ready func() bool) error {
	for {
		st.mu.Lock()
		ok, err, ch := ready(), st.err, st.changed
		st.mu.Unlock()
		switch {
		case err != nil:
			return err
		case ok:
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// next returns the items published from index i on, waiting for at least
// one; none (and no error) means the stage is done and i is its end.
func (st *stage) next(ctx context.Context, i int) ([]stageItem, error) {
	var out []stageItem
	err := st.await(ctx, func() bool {
		out = st.items[min(i, len(st.items)):]
		return len(out) > 0 || st.done
	})
	return out, err
}

// markSplit records that what is published so far is everything the tree
// deploy does not fetch.
func (st *stage) markSplit() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.split = len(st.items)
	st.wake()
}

// splitPoint waits for the split of a tree's stage; ok is false for a
// stage that has none (or has failed: the upload finds out).
func (st *stage) splitPoint(ctx context.Context) (int, bool) {
	if !st.splitting {
		return 0, false
	}
	var split int
	err := st.await(ctx, func() bool {
		split = st.split
		return st.split >= 0 || st.done
	})
	return split, err == nil && split >= 0
}

// ready returns the items published from index i on, without waiting.
func (st *stage) ready(i int) []stageItem {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.items[min(i, len(st.items)):]
}
