package attest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

// The schema in docs/ is checked with this validator of the subset of JSON
// Schema (2020-12) it uses. A keyword outside the subset is an error, so
// the schema cannot silently ask for something this does not check.

const schemaFile = "../../docs/attestation.schema.json"

type schema struct{ root map[string]any }

func loadSchema() (*schema, error) {
	b, err := os.ReadFile(schemaFile)
	if err != nil {
		return nil, err
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", schemaFile, err)
	}
	return &schema{root: root}, nil
}

// validate checks a JSON document against the schema.
func (s *schema) validate(doc []byte) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	return s.check(s.root, v, "$")
}

var ignoredKeywords = map[string]bool{"$schema": true, "$id": true, "$defs": true, "title": true, "description": true}

func (s *schema) check(node map[string]any, v any, at string) error {
	keys := make([]string, 0, len(node))
	for k := range node {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic: the first failure is always the same
	for _, k := range keys {
		if ignoredKeywords[k] {
			continue
		}
		if err := s.keyword(k, node[k], node, v, at); err != nil {
			return err
		}
	}
	return nil
}

func (s *schema) keyword(k string, arg any, node map[string]any, v any, at string) error {
	obj, isObj := v.(map[string]any)
	arr, isArr := v.([]any)
	str, isStr := v.(string)
	num, isNum := v.(json.Number)
	switch k {
	case "$ref":
		name, ok := strings.CutPrefix(arg.(string), "#/$defs/")
		def, found := s.root["$defs"].(map[string]any)[name].(map[string]any)
		if !ok || !found {
			return fmt.Errorf("schema: unresolved $ref %v", arg)
		}
		return s.check(def, v, at)
	case "type":
		if !hasType(arg.(string), v) {
			return fmt.Errorf("%s: %v is not of type %s", at, v, arg)
		}
	case "const":
		if v != arg {
			return fmt.Errorf("%s: %v, want %v", at, v, arg)
		}
	case "enum":
		for _, e := range arg.([]any) {
			if v == e {
				return nil
			}
		}
		return fmt.Errorf("%s: %v is not one of %v", at, v, arg)
	case "pattern":
		if isStr && !regexp.MustCompile(arg.(string)).MatchString(str) {
			return fmt.Errorf("%s: %q does not match %s", at, str, arg)
		}
	case "minLength":
		if isStr && float64(len([]rune(str))) < arg.(float64) {
			return fmt.Errorf("%s: %q is shorter than %v", at, str, arg)
		}
	case "format":
		if arg != "date-time" {
			return fmt.Errorf("schema: format %v is not supported", arg)
		}
		if _, err := time.Parse(time.RFC3339Nano, str); isStr && err != nil {
			return fmt.Errorf("%s: %q is not a date-time", at, str)
		}
	case "minimum", "maximum":
		if isNum {
			f, _ := num.Float64()
			if (k == "minimum" && f < arg.(float64)) || (k == "maximum" && f > arg.(float64)) {
				return fmt.Errorf("%s: %s is out of range (%s %v)", at, num, k, arg)
			}
		}
	case "minItems", "maxItems":
		if isArr && ((k == "minItems" && float64(len(arr)) < arg.(float64)) || (k == "maxItems" && float64(len(arr)) > arg.(float64))) {
			return fmt.Errorf("%s: %d items (%s %v)", at, len(arr), k, arg)
		}
	case "items":
		for i, item := range arr {
			if err := s.check(arg.(map[string]any), item, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case "minProperties", "maxProperties":
		if isObj && ((k == "minProperties" && float64(len(obj)) < arg.(float64)) || (k == "maxProperties" && float64(len(obj)) > arg.(float64))) {
			return fmt.Errorf("%s: %d properties (%s %v)", at, len(obj), k, arg)
		}
	case "required":
		for _, r := range arg.([]any) {
			if _, ok := obj[r.(string)]; isObj && !ok {
				return fmt.Errorf("%s: %s is required", at, r)
			}
		}
	case "properties":
		props := arg.(map[string]any)
		names := make([]string, 0, len(obj))
		for name := range obj {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if p, ok := props[name]; ok {
				if err := s.check(p.(map[string]any), obj[name], at+"."+name); err != nil {
					return err
				}
			}
		}
	case "additionalProperties":
		if arg != false {
			return fmt.Errorf("schema: only additionalProperties: false is supported (at %s)", at)
		}
		props, _ := node["properties"].(map[string]any)
		for name := range obj {
			if _, ok := props[name]; !ok {
				return fmt.Errorf("%s: property %q is not allowed", at, name)
			}
		}
	default:
		return fmt.Errorf("schema: keyword %q at %s is not supported by this validator", k, at)
	}
	return nil
}

func hasType(t string, v any) bool {
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		return ok && !strings.ContainsAny(string(n), ".eE")
	}
	return false
}
