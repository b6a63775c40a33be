package audit_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
)

func TestPagesTailAndEntriesAbout(t *testing.T) {
	f := audittest.Build(t, 30, 10)
	s, err := store.OpenReadOnly(context.Background(), f.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, log := context.Background(), s.Audit()
	tests := []struct {
		name string
		read func() ([]audit.Entry, error)
		want string
	}{
		{"the latest page, newest first", func() ([]audit.Entry, error) { return log.Page(ctx, 30, 4) }, "[29 28 27 26]"},
		{"a page in the middle", func() ([]audit.Entry, error) { return log.Page(ctx, 12, 3) }, "[11 10 9]"},
		{"the first page, short", func() ([]audit.Entry, error) { return log.Page(ctx, 2, 5) }, "[1 0]"},
		{"before the start", func() ([]audit.Entry, error) { return log.Page(ctx, 0, 5) }, "[]"},
		{"the tail, oldest first", func() ([]audit.Entry, error) { return log.Tail(ctx, 3) }, "[27 28 29]"},
		{"the entries about one subject", func() ([]audit.Entry, error) { return log.About(ctx, "request/7") }, "[7]"},
	}
	for _, tt := range tests {
		es, err := tt.read()
		seqs := []int64{}
		for _, e := range es {
			seqs = append(seqs, e.Seq)
		}
		if err != nil || fmt.Sprint(seqs) != tt.want {
			t.Errorf("%s: %v, %v; want %s", tt.name, seqs, err, tt.want)
		}
	}
}
