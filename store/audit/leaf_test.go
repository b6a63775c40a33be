package audit_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tollgate-dev/tollgate/store/audit"
)

func TestCanonicalJSON(t *testing.T) {
	type deploy struct {
		Sha  string `json:"sha"`
		Env  string `json:"env"`
		Hook string `json:"hook,omitempty"`
	}
	tests := []struct {
		name    string
		in      any
		want    string
		wantErr bool
	}{
		{"map keys sorted", map[string]any{"b": 1, "a": 2, "c": map[string]int{"z": 1, "y": 2}}, `{"a":2,"b":1,"c":{"y":2,"z":1}}`, false},
		{"struct fields sorted too", deploy{Sha: "abc", Env: "prod"}, `{"env":"prod","sha":"abc"}`, false},
		{"raw JSON whitespace removed", json.RawMessage(" { \"b\" : [1, 2] ,\n \"a\": null } "), `{"a":null,"b":[1,2]}`, false},
		{"numbers kept as written", json.RawMessage(`{"n":1.50,"big":12345678901234567890}`), `{"big":12345678901234567890,"n":1.50}`, false},
		{"no HTML escaping", map[string]string{"cmd": "a && b <c>"}, `{"cmd":"a && b <c>"}`, false},
		{"nil is null", nil, `null`, false},
		{"not JSON", json.RawMessage(`{"a":`), "", true},
		{"two values", json.RawMessage(`{} {}`), "", true},
		{"unmarshalable", map[string]any{"f": func() {}}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := audit.CanonicalJSON(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if string(got) != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// The leaf encoding is a contract with every auditor's copy of the log:
// a change to it must be deliberate (a new version tag), never accidental.
func TestLeafEncodingGolden(t *testing.T) {
	e := audit.Entry{Seq: 7, At: time.Date(2025, 3, 1, 9, 30, 0, 123000000, time.UTC), Actor: "alice",
		Action: "request.approved", Subject: "request/42", Data: json.RawMessage(`{"env":"production"}`)}
	golden, err := os.ReadFile("testdata/leaf_v1.golden")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(golden))
	if len(lines) != 2 {
		t.Fatalf("golden file has %d fields, want leaf hex and hash", len(lines))
	}
	if got := hex.EncodeToString(audit.LeafBytes(e)); got != lines[0] {
		t.Fatalf("leaf bytes changed:\n got %s\nwant %s", got, lines[0])
	}
	if got := audit.LeafHash(e).String(); got != lines[1] {
		t.Fatalf("leaf hash changed: got %s want %s", got, lines[1])
	}
}

func TestLeafEncodingIsInjective(t *testing.T) {
	at := "2025-03-01T09:00:00Z"
	pairs := [][2][]byte{
		{audit.AppendLeaf(nil, 1, at, "ab", "c", "s", []byte("{}")), audit.AppendLeaf(nil, 1, at, "a", "bc", "s", []byte("{}"))},
		{audit.AppendLeaf(nil, 1, at, "a", "b", "", []byte("{}")), audit.AppendLeaf(nil, 1, at, "a", "", "b", []byte("{}"))},
		{audit.AppendLeaf(nil, 1, at, "a", "b", "c", []byte("{}")), audit.AppendLeaf(nil, 2, at, "a", "b", "c", []byte("{}"))},
	}
	for i, p := range pairs {
		if bytes.Equal(p[0], p[1]) || tlog.RecordHash(p[0]) == tlog.RecordHash(p[1]) {
			t.Errorf("pair %d: different entries share leaf bytes", i)
		}
	}
}
