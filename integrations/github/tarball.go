package github

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	gh "github.com/google/go-github/v60/github"
)

// ErrTarballTooLarge reports a source tarball over AppConfig.MaxTarballBytes.
var ErrTarballTooLarge = errors.New("source tarball is over the size limit")

// Tarball returns the gzipped tar of repo at sha, as GitHub builds it (one
// top-level directory; feed it to deploy.TarSource(r, 1)). The API answers
// with a short-lived download URL, fetched with a plain client (the URL is
// its own credential), bounded in time and size. The caller closes it.
func (a *App) Tarball(ctx context.Context, repo, sha string) (io.ReadCloser, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	c, err := a.ForRepo(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("tarball of %s at %s: %w", repo, short(sha), err)
	}
	link, _, err := c.Repositories.GetArchiveLink(ctx, owner, name, gh.Tarball, &gh.RepositoryContentGetOptions{Ref: sha}, 1)
	if err != nil {
		return nil, fmt.Errorf("tarball link of %s at %s: %w", repo, short(sha), err)
	}
	dctx, cancel := context.WithTimeout(ctx, a.tarballWait)
	req, err := http.NewRequestWithContext(dctx, http.MethodGet, link.String(), nil)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("tarball of %s at %s: %w", repo, short(sha), err)
	}
	resp, err := (&http.Client{Transport: a.base}).Do(req)
	if err != nil {
		cancel()
		// The URL carries a token: name the host only.
		return nil, fmt.Errorf("downloading the tarball of %s at %s from %s: %w", repo, short(sha), link.Host, errors.Unwrap(err))
	}
	if resp.StatusCode != http.StatusOK {
		_ = resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("downloading the tarball of %s at %s: %s", repo, short(sha), resp.Status)
	}
	if resp.ContentLength > a.maxTarball {
		_ = resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("tarball of %s at %s is %d bytes: %w (%d)", repo, short(sha), resp.ContentLength, ErrTarballTooLarge, a.maxTarball)
	}
	return &boundedBody{body: resp.Body, left: a.maxTarball, cancel: cancel}, nil
}

// boundedBody fails reads past its limit rather than truncating silently,
// and ends the download's context on Close.
type boundedBody struct {
	body   io.ReadCloser
	left   int64
	cancel context.CancelFunc
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Anything more is over the limit; a clean EOF here is the end.
		var one [1]byte
		if n, err := b.body.Read(one[:]); n > 0 {
			return 0, ErrTarballTooLarge
		} else if err != nil {
			return 0, err
		}
		return 0, nil
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.body.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *boundedBody) Close() error {
	err := b.body.Close()
	b.cancel()
	return err
}
