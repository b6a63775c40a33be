package deploy

import (
	"context"
	"sort"
	"strings"
	"time"
)

// serverState is the layout found on a server.
type serverState struct {
	current  string // release name current points at; "" when none
	releases map[string]*ReleaseInfo
	// base is the release whose manifest and shared paths were reported
	// (the current one, when complete).
	base         string
	baseManifest []string // lines
	baseShared   []string
	// baseFiles are the regular files the base release holds now; nil
	// when not listed.
	baseFiles map[string]bool
}

// inspect lists the releases on a server.
func inspect(ctx context.Context, c *conn, root string) (serverState, error) {
	out, err := c.output(ctx, inspectScript(root), nil)
	if err != nil {
		return serverState{}, err
	}
	return parseInspect(out), nil
}

func parseInspect(out string) serverState {
	st := serverState{releases: map[string]*ReleaseInfo{}}
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "m "); ok {
			st.baseManifest = append(st.baseManifest, rest)
			continue
		}
		if rest, ok := strings.CutPrefix(line, "s "); ok {
			st.baseShared = append(st.baseShared, rest)
			continue
		}
		if rest, ok := strings.CutPrefix(line, "e "); ok {
			if st.baseFiles == nil {
				st.baseFiles = map[string]bool{}
			}
			st.baseFiles[rest] = true
			continue
		}
		f := strings.Split(line, "\t")
		switch {
		case len(f) == 2 && f[0] == "base":
			st.base = f[1]
		case len(f) == 2 && f[0] == "current":
			st.current = strings.TrimPrefix(f[1], "releases/")
			if st.current == f[1] && f[1] != "" {
				st.current = "?" + f[1] // not one of ours; never matches a release
			}
		case len(f) == 5 && f[0] == "release" && releaseNameRe.MatchString(f[1]):
			info := &ReleaseInfo{Name: f[1], Complete: f[4] == "complete"}
			info.Created, _ = time.Parse(time.RFC3339Nano, strings.TrimSpace(f[2]))
			if at, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(f[3])); err == nil {
				info.Good, info.GoodAt = true, at
			}
			st.releases[info.Name] = info
		}
	}
	return st
}

// sorted returns the releases newest first (by creation, then name).
func (s serverState) sorted() []ReleaseInfo {
	list := make([]ReleaseInfo, 0, len(s.releases))
	for _, r := range s.releases {
		list = append(list, *r)
	}
	sort.Slice(list, func(i, j int) bool {
		if !list[i].Created.Equal(list[j].Created) {
			return list[i].Created.After(list[j].Created)
		}
		return list[i].Name > list[j].Name
	})
	return list
}

// unfinished are releases that are neither live nor ever passed a health
// check: leftovers of failed or killed deploys. Taken under the lock, so no
// deploy is still writing them.
func (s serverState) unfinished() []string {
	var names []string
	for _, r := range s.sorted() {
		if r.Name != s.current && !r.Good {
			names = append(names, r.Name)
		}
	}
	return names
}

// expired are releases beyond the newest keep, never the current one nor the
// newest good one.
func (s serverState) expired(keep int) []string {
	var names []string
	newestGood := ""
	for _, r := range s.sorted() {
		if r.Good {
			newestGood = r.Name
			break
		}
	}
	for i, r := range s.sorted() {
		if i >= keep && r.Name != s.current && r.Name != newestGood {
			names = append(names, r.Name)
		}
	}
	return names
}
