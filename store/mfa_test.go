package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/mfastate"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

func TestMFACredentials(t *testing.T) { storetest.Run(t, testMFACredentials) }

func testMFACredentials(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	key := func(gh int64, name string, id byte) bot.MFACredential {
		return bot.MFACredential{GitHubID: gh, Login: "alice", Name: name, ID: []byte{id, 0xff, 0x00, id},
			PublicKey: []byte{0xa5, 1, 2, id}, AAGUID: make([]byte, 16), SignCount: 3, BackupEligible: true,
			Transports: []string{"usb", "nfc"}, AttestationFormat: "none", CreatedAt: reqT0.Add(time.Duration(id) * time.Second)}
	}
	for _, c := range []bot.MFACredential{key(1, "yubikey", 1), key(1, "laptop", 2), key(2, "yubikey", 3)} {
		if err := s.AddMFACredential(ctx, c, event(bot.ActionMFARegistered, c.Name)[0]); err != nil {
			t.Fatalf("adding %s: %v", c.Name, err)
		}
	}
	for name, c := range map[string]bot.MFACredential{
		"the same name for the same person":  key(1, "yubikey", 9),
		"a credential id registered already": key(3, "other", 1),
	} {
		if err := s.AddMFACredential(ctx, c, event(bot.ActionMFARegistered, c.Name)[0]); !errors.Is(err, bot.ErrConflict) {
			t.Errorf("%s: %v, want ErrConflict", name, err)
		}
	}
	cs, err := s.MFACredentials(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs[0].Name != "yubikey" || cs[1].Name != "laptop" {
		t.Fatalf("alice's keys = %+v, want yubikey then laptop", cs)
	}
	got := cs[0]
	if string(got.ID) != string([]byte{1, 0xff, 0, 1}) || got.SignCount != 3 || !got.BackupEligible || got.BackupState ||
		strings.Join(got.Transports, ",") != "usb,nfc" || got.AttestationFormat != "none" || !got.CreatedAt.Equal(reqT0.Add(time.Second)) {
		t.Errorf("round trip: %+v", got)
	}

	if byLogin, err := s.MFACredentialsByLogin(ctx, "ALICE"); err != nil || len(byLogin) != 3 {
		t.Errorf("by login: %d keys, %v; want all 3 registered as alice", len(byLogin), err)
	}
	byID, err := s.MFACredentialByID(ctx, []byte{3, 0xff, 0, 3})
	if err != nil || byID.GitHubID != 2 {
		t.Fatalf("by id: %+v, %v", byID, err)
	}
	if _, err := s.MFACredentialByID(ctx, []byte{7}); !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("unknown id: %v, want ErrNotFound", err)
	}

	// The counter only moves forward.
	for _, n := range []uint32{10, 4} {
		if err := s.UseMFACredential(ctx, got.ID, n, reqT0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if c, _ := s.MFACredentialByID(ctx, got.ID); c.SignCount != 10 || !c.LastUsedAt.Equal(reqT0.Add(time.Hour)) {
		t.Errorf("after uses: count %d, last used %s", c.SignCount, c.LastUsedAt)
	}

	size := func() int64 {
		n, err := s.Audit().Size(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := size()
	removed, err := s.RemoveMFACredential(ctx, 1, "laptop", event(bot.ActionMFARemoved, "alice")[0])
	if err != nil || removed.Name != "laptop" {
		t.Fatalf("remove: %+v, %v", removed, err)
	}
	if size() != before+1 {
		t.Errorf("removing appended %d audit entries, want 1", size()-before)
	}
	if _, err := s.RemoveMFACredential(ctx, 2, "laptop", event(bot.ActionMFARemoved, "bob")[0]); !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("removing someone else's name: %v, want ErrNotFound", err)
	}
	if size() != before+1 {
		t.Error("a refused removal was audited as a removal")
	}
}

func TestMFAStatesAreSingleUseAndExpire(t *testing.T) {
	storetest.Run(t, testMFAStatesAreSingleUseAndExpire)
}

func testMFAStatesAreSingleUseAndExpire(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	now := reqT0
	for _, st := range []MFAState{
		{Kind: mfastate.KindCeremony, Key: "ceremony-1", GitHubID: 12, Subject: "r-abc", Data: []byte(`{"x":1}`),
			CreatedAt: now, ExpiresAt: now.Add(2 * time.Minute)},
		{Kind: mfastate.KindRegisterLink, Key: "link-1", Workspace: "T1", User: "U1", CreatedAt: now, ExpiresAt: now.Add(time.Minute)},
	} {
		if err := s.SaveMFAState(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveMFAState(ctx, MFAState{Kind: "other", Key: "k", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}); err == nil {
		t.Error("an unknown kind was saved")
	}
	tests := []struct {
		name      string
		kind, key string
		at        time.Time
		want      error
	}{
		{"first use", mfastate.KindCeremony, "ceremony-1", now.Add(time.Minute), nil},
		{"second use", mfastate.KindCeremony, "ceremony-1", now.Add(time.Minute), mfastate.ErrUsed},
		{"a link is not a ceremony", mfastate.KindCeremony, "link-1", now, mfastate.ErrUnknown},
		{"expired", mfastate.KindRegisterLink, "link-1", now.Add(time.Minute), mfastate.ErrExpired},
		{"expired stays used", mfastate.KindRegisterLink, "link-1", now, mfastate.ErrUsed},
		{"never issued", mfastate.KindCeremony, "forged", now, mfastate.ErrUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := s.ConsumeMFAState(ctx, tt.kind, tt.key, tt.at)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if tt.want == nil && (st.GitHubID != 12 || st.Subject != "r-abc" || string(st.Data) != `{"x":1}`) {
				t.Errorf("read back %+v", st)
			}
		})
	}
}
