package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnsureHMACKeyCreatesOnceWithMode0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hmac.key")
	key, created, err := EnsureHMACKey(path)
	if err != nil || !created || len(key) != HMACKeySize {
		t.Fatalf("first EnsureHMACKey = %d bytes, created %v, %v", len(key), created, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o, want 0600", st.Mode().Perm())
	}
	again, created, err := EnsureHMACKey(path)
	if err != nil || created || string(again) != string(key) {
		t.Fatalf("second EnsureHMACKey created %v, same key %v, %v", created, string(again) == string(key), err)
	}
}

func TestLoadHMACKeyRefusesShortOrMalformedKeys(t *testing.T) {
	tests := []struct {
		name    string
		content string
	}{
		{"not hex", "this is not hex at all, but it is long enough to be a key\n"},
		{"too short", strings.Repeat("ab", HMACKeySize-1) + "\n"},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hmac.key")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadHMACKey(path); err == nil {
				t.Fatal("a malformed key was accepted")
			} else if tt.content != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.content)) {
				t.Fatalf("error discloses the key file's content: %v", err)
			}
			if _, _, err := EnsureHMACKey(path); err == nil {
				t.Fatal("EnsureHMACKey replaced or accepted a malformed key")
			}
		})
	}
}

func TestHashValueIsKeyedHMAC(t *testing.T) {
	// RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
	got := HashValue([]byte("Jefe"), "what do ya want for nothing?")
	want := HashPrefix + "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	if got != want {
		t.Fatalf("HashValue = %s, want %s", got, want)
	}
	if HashValue([]byte("other key"), "what do ya want for nothing?") == got {
		t.Fatal("a different key gave the same hash")
	}
}
