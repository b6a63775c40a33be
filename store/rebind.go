package store

import (
	"strconv"
	"strings"
	"sync"
)

// Every SQL string in the store is written once, with SQLite's `?`
// placeholders. On PostgreSQL the driver connection rewrites them to `$1`,
// `$2`, … (rebind) before pgx sees the statement, so the same strings,
// including those of packages that run their own queries through DB(), work
// on both engines. The rules:
//
//   - `?` is the next parameter: one more than the highest number given so
//     far, as in SQLite (`? ?` → `$1 $2`);
//   - `?NNN` is parameter NNN (`?1 … ?1` → `$1 … $1`);
//   - nothing inside a string literal ('…', E'…'), a quoted identifier
//     ("…"), a dollar-quoted body ($$…$$, $tag$…$tag$) or a comment
//     (-- …, /* … */, nested) is touched, so PL/pgSQL bodies and literals
//     holding a question mark stay as they are.

// rebindCache keeps rewritten statements: the store issues the same few
// hundred strings over and over.
var rebindCache sync.Map // string → string

// rebind returns query with `?` placeholders numbered for PostgreSQL.
func rebind(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	if out, ok := rebindCache.Load(query); ok {
		return out.(string)
	}
	out := rebindUncached(query)
	rebindCache.Store(query, out)
	return out
}

func rebindUncached(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 16)
	highest := 0
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '\'':
			j := skipQuoted(q, i, '\'', i > 0 && (q[i-1] == 'E' || q[i-1] == 'e'))
			b.WriteString(q[i:j])
			i = j
		case c == '"':
			j := skipQuoted(q, i, '"', false)
			b.WriteString(q[i:j])
			i = j
		case c == '-' && strings.HasPrefix(q[i:], "--"):
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				j = len(q) - i
			}
			b.WriteString(q[i : i+j])
			i += j
		case c == '/' && strings.HasPrefix(q[i:], "/*"):
			j := skipBlockComment(q, i)
			b.WriteString(q[i:j])
			i = j
		case c == '$':
			j := skipDollarQuoted(q, i)
			b.WriteString(q[i:j])
			i = j
		case c == '?':
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			n := highest + 1
			if j > i+1 {
				n, _ = strconv.Atoi(q[i+1 : j])
			}
			highest = max(highest, n)
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// skipQuoted returns the index just past the literal or identifier opening
// at q[i]; a doubled quote is an escaped one, and in an E'…' string so is
// a backslash-escaped one. An unterminated one runs to the end.
func skipQuoted(q string, i int, quote byte, backslash bool) int {
	for j := i + 1; j < len(q); j++ {
		switch {
		case backslash && q[j] == '\\':
			j++
		case q[j] == quote && j+1 < len(q) && q[j+1] == quote:
			j++
		case q[j] == quote:
			return j + 1
		}
	}
	return len(q)
}

// skipBlockComment returns the index just past the (possibly nested)
// comment opening at q[i].
func skipBlockComment(q string, i int) int {
	depth := 0
	for j := i; j < len(q)-1; j++ {
		switch {
		case q[j] == '/' && q[j+1] == '*':
			depth++
			j++
		case q[j] == '*' && q[j+1] == '/':
			depth--
			j++
			if depth == 0 {
				return j + 1
			}
		}
	}
	return len(q)
}

// skipDollarQuoted returns the index just past the dollar-quoted string
// opening at q[i] ($$…$$ or $tag$…$tag$), or i+1 when q[i] does not open
// one (a positional parameter such as $1 is copied as it is).
func skipDollarQuoted(q string, i int) int {
	if i > 0 && isIdentByte(q[i-1]) { // part of an identifier such as a$b
		return i + 1
	}
	j := i + 1
	for j < len(q) && (q[j] == '_' || q[j] >= 'a' && q[j] <= 'z' || q[j] >= 'A' && q[j] <= 'Z' ||
		j > i+1 && q[j] >= '0' && q[j] <= '9') {
		j++
	}
	if j >= len(q) || q[j] != '$' {
		return i + 1
	}
	tag := q[i : j+1]
	end := strings.Index(q[j+1:], tag)
	if end < 0 {
		return len(q)
	}
	return j + 1 + end + len(tag)
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
