package store

import "testing"

func TestRebind(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"no placeholders", `SELECT 1`, `SELECT 1`},
		{"in order", `SELECT a FROM t WHERE b = ? AND c = ?`, `SELECT a FROM t WHERE b = $1 AND c = $2`},
		{"numbered, reused", `WHERE x <= ?1 AND y <= ?1 LIMIT ?2`, `WHERE x <= $1 AND y <= $1 LIMIT $2`},
		{"plain after numbered counts on", `VALUES (?2, ?1, ?)`, `VALUES ($2, $1, $3)`},
		{"string literal", `SELECT '?', 'it''s ?' FROM t WHERE a = ?`, `SELECT '?', 'it''s ?' FROM t WHERE a = $1`},
		{"escape string", `SELECT E'\'?' || ?`, `SELECT E'\'?' || $1`},
		{"quoted identifier", `SELECT "what?" FROM t WHERE a = ?`, `SELECT "what?" FROM t WHERE a = $1`},
		{"line comment", "SELECT ? -- why?\n, ?", "SELECT $1 -- why?\n, $2"},
		{"block comment, nested", `SELECT /* a? /* b? */ c? */ ?`, `SELECT /* a? /* b? */ c? */ $1`},
		{"dollar quotes", `DO $$ BEGIN RAISE '?'; END $$; SELECT ?`, `DO $$ BEGIN RAISE '?'; END $$; SELECT $1`},
		{"tagged dollar quotes", `SELECT $fn$ ? $$ ? $fn$, ?`, `SELECT $fn$ ? $$ ? $fn$, $1`},
		{"dollar-numbered text left alone", `SELECT "$1", ?`, `SELECT "$1", $1`},
		{"dollar inside an identifier", `SELECT a$b, ?`, `SELECT a$b, $1`},
		{"cast after placeholder", `SELECT ?::bigint << 32`, `SELECT $1::bigint << 32`},
		{"unterminated literal", `SELECT 'abc ?`, `SELECT 'abc ?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rebind(tt.in); got != tt.want {
				t.Errorf("rebind(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if got := rebind(tt.in); got != tt.want { // from the cache
				t.Errorf("cached rebind(%q) = %q", tt.in, got)
			}
		})
	}
}
