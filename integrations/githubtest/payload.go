package githubtest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Payload is a webhook body being built: a real fixture decoded into maps,
// so edits keep GitHub's shape.
type Payload struct {
	Event  string         // X-GitHub-Event to send it with
	Fields map[string]any // the decoded JSON body
}

// LoadPayload decodes fixture file name as the body of event.
func LoadPayload(event, name string) (Payload, error) {
	b, err := Fixture(name)
	if err != nil {
		return Payload{}, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return Payload{}, fmt.Errorf("decode fixture %s: %w", name, err)
	}
	return Payload{Event: event, Fields: m}, nil
}

// Set sets the value at a dotted path ("pull_request.head.sha",
// "pull_request.labels.0.name"); missing or null objects on the way are
// created, anything else in the way is an error.
func (p Payload) Set(path string, v any) error {
	parts := strings.Split(path, ".")
	var cur any = p.Fields
	for i, k := range parts {
		last := i == len(parts)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[k] = v
				return nil
			}
			if c[k] == nil {
				c[k] = map[string]any{}
			}
			cur = c[k]
		case []any:
			n, err := strconv.Atoi(k)
			if err != nil || n < 0 || n >= len(c) {
				return fmt.Errorf("set %s: index %q out of range", path, k)
			}
			if last {
				c[n] = v
				return nil
			}
			cur = c[n]
		default:
			return fmt.Errorf("set %s: %s is not an object or array", path, strings.Join(parts[:i], "."))
		}
	}
	return nil
}

// Get returns the value at a dotted path, or nil.
func (p Payload) Get(path string) any {
	var cur any = p.Fields
	for _, k := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[k]
		case []any:
			n, err := strconv.Atoi(k)
			if err != nil || n < 0 || n >= len(c) {
				return nil
			}
			cur = c[n]
		default:
			return nil
		}
	}
	return cur
}

// JSON encodes the payload as GitHub sends it.
func (p Payload) JSON() ([]byte, error) {
	b, err := json.Marshal(p.Fields)
	if err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", p.Event, err)
	}
	return b, nil
}

// overlay copies src's keys into dst, recursing into objects both have, so a
// fixture object keeps the fields the fake does not model.
func overlay(dst, src map[string]any) {
	for k, v := range src {
		sm, sIsMap := v.(map[string]any)
		dm, dIsMap := dst[k].(map[string]any)
		if sIsMap && dIsMap {
			overlay(dm, sm)
			continue
		}
		dst[k] = v
	}
}

// overlayAt overlays src onto the object at key, creating it if absent.
func (p Payload) overlayAt(key string, src map[string]any) {
	if src == nil {
		p.Fields[key] = nil
		return
	}
	dst, ok := p.Fields[key].(map[string]any)
	if !ok {
		dst = map[string]any{}
		p.Fields[key] = dst
	}
	// Round-trip src through JSON so numbers and nested values have the
	// same types as decoded fixture data.
	b, _ := json.Marshal(src)
	var norm map[string]any
	_ = json.Unmarshal(b, &norm)
	overlay(dst, norm)
}
