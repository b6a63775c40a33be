package github

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestTarballDownload(t *testing.T) {
	w := newOutWorld(t)
	sha := outSHA("base")
	if err := w.gh.SetTarball("acme/web", sha, map[string]string{"index.html": "<h1>hi</h1>", "app/main.go": "package main"}); err != nil {
		t.Fatal(err)
	}
	rc, err := w.app.Tarball(outCtx(t), "acme/web", sha)
	if err != nil {
		t.Fatalf("Tarball: %v", err)
	}
	defer rc.Close()
	gz, err := gzip.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			// GitHub puts everything under one top-level directory.
			_, rel, _ := strings.Cut(h.Name, "/")
			files[rel] = string(b)
		}
	}
	if files["index.html"] != "<h1>hi</h1>" || files["app/main.go"] != "package main" || len(files) != 2 {
		t.Errorf("files = %v", files)
	}
	for _, c := range w.gh.CallsMatching("GET", "/_codeload/") {
		if c.Header.Get("Authorization") != "" {
			t.Error("the installation token was sent to the download URL")
		}
	}
}

func TestTarballRefusals(t *testing.T) {
	w := newOutWorld(t)
	sha := outSHA("base")
	if err := w.gh.SetTarball("acme/web", sha, map[string]string{"big.bin": strings.Repeat("x", 64<<10)}); err != nil {
		t.Fatal(err)
	}
	small, err := NewApp(outCtx(t), AppConfig{APIURL: w.gh.APIURL(), AppID: w.gh.AppID(), PrivateKey: w.gh.AppPrivateKeyPEM(), MaxTarballBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := small.Tarball(outCtx(t), "acme/web", sha); !errors.Is(err, ErrTarballTooLarge) {
		t.Errorf("Tarball over the limit = %v, want ErrTarballTooLarge", err)
	}
	if _, err := w.app.Tarball(outCtx(t), "acme/web", outSHA("nothing")); err == nil {
		t.Error("Tarball of an unknown SHA succeeded")
	}
}

// A body without Content-Length is cut off with an error at the limit,
// never silently truncated.
func TestBoundedBodyFailsPastTheLimit(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		limit   int64
		wantErr error
	}{
		{"under the limit", "hello", 10, nil},
		{"exactly the limit", "hello", 5, nil},
		{"over the limit", "hello world", 5, ErrTarballTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &boundedBody{body: io.NopCloser(strings.NewReader(tt.body)), left: tt.limit, cancel: func() {}}
			got, err := io.ReadAll(b)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ReadAll = %q, %v; want error %v", got, err, tt.wantErr)
			}
			if tt.wantErr == nil && string(got) != tt.body {
				t.Errorf("read %q, want %q", got, tt.body)
			}
		})
	}
}
