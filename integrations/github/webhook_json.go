package github

import (
	"bytes"
	"encoding/json"
	"strings"
)

// decodeEnvelope decodes the envelope from body exactly as json.Unmarshal
// would (same fields, an error for the same bodies) but cheaper: after one
// validating pass (validJSON) it walks the top-level keys, skipping the
// values it does not need instead of scanning them again. json.Unmarshal's
// two scans of the payload were a quarter of serve's CPU under load
// (BENCHMARKS.md, "Webhook intake under load"). Anything but an object
// falls back to json.Unmarshal, as does any error (for its message).
func decodeEnvelope(body []byte) (webhookEnvelope, error) {
	var env webhookEnvelope
	slow := func() (webhookEnvelope, error) {
		env = webhookEnvelope{}
		err := json.Unmarshal(body, &env)
		return env, err
	}
	start := skipSpace(body, 0)
	if start == len(body) || body[start] != '{' || !validJSON(body) {
		return slow()
	}
	err := walkObject(body[start:], func(key, val []byte) error {
		switch {
		case keyIs(key, "action"):
			return json.Unmarshal(val, &env.Action)
		case keyIs(key, "installation"):
			return json.Unmarshal(val, &env.Installation)
		case keyIs(key, "repository") && val[0] == '{':
			if env.Repository == nil {
				env.Repository = &struct {
					FullName string `json:"full_name"`
				}{}
			}
			return walkObject(val, func(key, val []byte) error {
				if keyIs(key, "full_name") {
					return json.Unmarshal(val, &env.Repository.FullName)
				}
				return nil
			})
		case keyIs(key, "repository"):
			return json.Unmarshal(val, &env.Repository)
		}
		return nil
	})
	if err != nil {
		return slow() // for json.Unmarshal's own error
	}
	return env, nil
}

// walkObject calls fn with each key (quoted, as written) and raw value of
// obj, a JSON object already known to be valid.
func walkObject(obj []byte, fn func(key, val []byte) error) error {
	i := skipSpace(obj, 0) + 1 // past '{'
	for {
		i = skipSpace(obj, i)
		switch obj[i] {
		case '}':
			return nil
		case ',':
			i = skipSpace(obj, i+1)
		}
		keyEnd := skipString(obj, i)
		key := obj[i:keyEnd]
		i = skipSpace(obj, skipSpace(obj, keyEnd)+1) // past ':'
		valEnd := skipValue(obj, i)
		if err := fn(key, obj[i:valEnd]); err != nil {
			return err
		}
		i = valEnd
	}
}

// keyIs reports whether the quoted key names field as encoding/json
// matches names: unescaped, case-folded.
func keyIs(quoted []byte, field string) bool {
	inner := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return bytes.EqualFold(inner, []byte(field))
	}
	var k string
	return json.Unmarshal(quoted, &k) == nil && strings.EqualFold(k, field)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the valid JSON string at b[i]:
// its closing quote is the first one not escaped by an odd run of
// backslashes.
func skipString(b []byte, i int) int {
	for j := i + 1; ; {
		q := j + bytes.IndexByte(b[j:], '"')
		n := 0
		for n < q-j && b[q-1-n] == '\\' {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
}

// skipValue returns the index just past the valid JSON value at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; ; {
			switch b[j] {
			case '"':
				j = skipString(b, j)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
			j++
		}
	}
	j := i // a number, true, false or null
	for j < len(b) && !strings.ContainsRune(",}] \t\r\n", rune(b[j])) {
		j++
	}
	return j
}

// maxNesting is encoding/json's limit on nested objects and arrays.
const maxNesting = 10000

// validJSON reports exactly what json.Valid reports (fuzzed against it),
// about three times faster: strings, the bulk of a GitHub payload, are
// scanned by a plain loop rather than a state machine call per byte.
func validJSON(b []byte) bool {
	i, ok := validValue(b, skipSpace(b, 0), 0)
	return ok && skipSpace(b, i) == len(b)
}

// validValue checks the value at b[i], inside depth open containers, and
// returns the index just past it.
func validValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '{' || c == '[':
		if depth+1 > maxNesting {
			return i, false
		}
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == end {
			return i + 1, true
		}
		for {
			var ok bool
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return i, false
				}
				if i, ok = validString(b, i); !ok {
					return i, false
				}
				if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
					return i, false
				}
				i = skipSpace(b, i+1)
			}
			if i, ok = validValue(b, i, depth+1); !ok {
				return i, false
			}
			switch i = skipSpace(b, i); {
			case i >= len(b):
				return i, false
			case b[i] == end:
				return i + 1, true
			case b[i] != ',':
				return i, false
			}
			i = skipSpace(b, i+1)
		}
	case c == '"':
		return validString(b, i)
	case c == '-' || '0' <= c && c <= '9':
		return validNumber(b, i)
	case c == 't':
		return validLiteral(b, i, "true")
	case c == 'f':
		return validLiteral(b, i, "false")
	case c == 'n':
		return validLiteral(b, i, "null")
	}
	return i, false
}

// validString checks the string at b[i] == '"' as encoding/json does:
// escapes must be JSON's, control characters are refused, other bytes
// (invalid UTF-8 too) are accepted.
func validString(b []byte, i int) (int, bool) {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			if i++; i >= len(b) {
				return i, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return i, false
				}
				for _, h := range b[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return i, false
					}
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

// validNumber checks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at b[i].
func validNumber(b []byte, i int) (int, bool) {
	digits := func(i int) (int, bool) {
		start := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i, i > start
	}
	if b[i] == '-' {
		i++
	}
	var ok bool
	switch {
	case i < len(b) && b[i] == '0':
		i++
	default:
		if i, ok = digits(i); !ok {
			return i, false
		}
	}
	if i < len(b) && b[i] == '.' {
		if i, ok = digits(i + 1); !ok {
			return i, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i, ok = digits(i); !ok {
			return i, false
		}
	}
	return i, true
}

func validLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit), true
	}
	return i, false
}
