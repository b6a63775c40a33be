package github

import (
	"context"
	"crypto/rand"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// signedCheckpoint returns a real signed checkpoint note of size n at t.
func signedCheckpoint(t *testing.T, signer note.Signer, n int64, at time.Time) []byte {
	t.Helper()
	root := tlog.Hash{byte(n)}
	msg, err := note.Sign(&note.Note{Text: audit.FormatCheckpointText(audit.Origin("k"), n, root, at)}, signer)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func newAnchorWorld(t *testing.T) (*githubtest.Server, *Anchors, note.Signer, note.Verifier) {
	t.Helper()
	gh := githubtest.New()
	t.Cleanup(gh.Close)
	gh.AddInstallation("acme")
	gh.AddRepo("acme/audit-anchors")
	gh.SetFile("acme/audit-anchors", "main", "README.md", []byte("Tollgate audit anchors\n"))
	app, err := NewApp(context.Background(), AppConfig{APIURL: gh.APIURL(), AppID: gh.AppID(), PrivateKey: gh.AppPrivateKeyPEM(),
		Retry: RetryPolicy{Sleep: func(context.Context, time.Duration) error { return nil }}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAnchors(app, "acme/audit-anchors", "")
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, "k")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return gh, a, signer, verifier
}

func TestAnchorsPublishAppendsOneFilePerDayAndFetchReadsThemBack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gh, a, signer, verifier := newAnchorWorld(t)
	day1 := time.Date(2026, 11, 28, 23, 0, 0, 0, time.UTC)
	day2 := day1.Add(2 * time.Hour)
	cp100 := signedCheckpoint(t, signer, 100, day1)
	cp200 := signedCheckpoint(t, signer, 200, day1.Add(30*time.Minute))
	cp300 := signedCheckpoint(t, signer, 300, day2)

	steps := []struct {
		name       string
		note       []byte
		size       int64
		at         time.Time
		fault      bool // the PUT loses a race once (409)
		wantPath   string
		wantCommit bool
	}{
		{"first of the day creates the file", cp100, 100, day1, false, "checkpoints/2026-11-28.txt", true},
		{"second of the day is appended, after a lost race", cp200, 200, day1.Add(30 * time.Minute), true, "checkpoints/2026-11-28.txt", true},
		{"publishing again changes nothing", cp200, 200, day1.Add(30 * time.Minute), false, "checkpoints/2026-11-28.txt", false},
		{"next day gets its own file", cp300, 300, day2, false, "checkpoints/2026-11-29.txt", true},
	}
	for _, st := range steps {
		if st.fault {
			gh.FailNext("PUT", "/repos/*/*/contents/**", 409, 1)
		}
		rc, err := a.Publish(ctx, st.note, st.size, st.at)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if rc.Path != st.wantPath || (rc.Commit != "") != st.wantCommit || rc.Repository != "acme/audit-anchors" {
			t.Fatalf("%s: receipt %+v", st.name, rc)
		}
	}
	got, ok := gh.File("acme/audit-anchors", "main", "checkpoints/2026-11-28.txt")
	if want := string(cp100) + "\n" + string(cp200) + "\n"; !ok || string(got) != want {
		t.Fatalf("day file:\n%s\nwant:\n%s", got, want)
	}

	fetched, err := a.Fetch(ctx, day1.Add(-72*time.Hour), day2)
	if err != nil {
		t.Fatal(err)
	}
	var sizes []string
	for _, f := range fetched {
		cp, err := audit.OpenCheckpoint(f.Note, verifier)
		if err != nil {
			t.Fatalf("fetched note from %s does not verify: %v", f.Path, err)
		}
		sizes = append(sizes, f.Path+":"+strconv.FormatInt(cp.Size, 10))
	}
	want := "checkpoints/2026-11-28.txt:100 checkpoints/2026-11-28.txt:200 checkpoints/2026-11-29.txt:300"
	if strings.Join(sizes, " ") != want {
		t.Fatalf("fetched %v, want %s", sizes, want)
	}
}

func TestAnchorsPublishReportsAMissingInstallation(t *testing.T) {
	gh, a, signer, _ := newAnchorWorld(t)
	a.repo = "elsewhere/anchors"
	gh.AddRepo("elsewhere/anchors")
	_, err := a.Publish(context.Background(), signedCheckpoint(t, signer, 1, time.Now()), 1, time.Now())
	if err == nil || !strings.Contains(err.Error(), "not installed") {
		t.Fatalf("publish without installation: %v", err)
	}
}

func TestParseAnchorFile(t *testing.T) {
	good := "tollgate/k\n1\nAAAA\ntimestamp 2026-11-28T00:00:00Z\n\n\u2014 k abc=\n\n" +
		"tollgate/k\n2\nBBBB\ntimestamp 2026-11-28T01:00:00Z\n\n\u2014 k def=\n\u2014 other ghi=\n\n"
	cases := []struct {
		name    string
		in      string
		want    int
		wantErr string
	}{
		{"two notes, one with two signatures", good, 2, ""},
		{"empty file", "", 0, ""},
		{"missing final blank line", strings.TrimSuffix(good, "\n"), 2, ""},
		{"text after a signature", "tollgate/k\n1\nAAAA\ntimestamp x\n\n\u2014 k abc=\nhello\n", 0, "line 7: want a signature line"},
		{"note without signature", "tollgate/k\n1\nAAAA\ntimestamp x\n", 0, "no signature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			notes, err := ParseAnchorFile([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(notes) != tc.want {
				t.Fatalf("got %d notes, %v", len(notes), err)
			}
			if tc.want == 2 && !strings.HasSuffix(string(notes[1]), "\u2014 other ghi=\n") {
				t.Fatalf("second note %q", notes[1])
			}
		})
	}
}
