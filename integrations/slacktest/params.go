package slacktest

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// maxBody bounds request bodies; Slack's own limits are far below this.
const maxBody = 4 << 20

// params are a Web API call's arguments, sent form-encoded or as JSON.
type params struct {
	form    url.Values
	json    map[string]json.RawMessage
	rawJSON json.RawMessage
	token   string // the "token" argument, kept out of recordings
}

func readParams(r *http.Request) (params, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, maxBody)
	ctype, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ctype == "application/json" {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return params{}, fmt.Errorf("read JSON body: %w", err)
		}
		p := params{rawJSON: body}
		if err := json.Unmarshal(body, &p.json); err != nil {
			return params{}, fmt.Errorf("decode JSON body: %w", err)
		}
		if _, ok := p.json["token"]; ok {
			p.token = p.Get("token")
			delete(p.json, "token")
			p.rawJSON, _ = json.Marshal(p.json)
		}
		return p, nil
	}
	if err := r.ParseForm(); err != nil {
		return params{}, fmt.Errorf("parse form: %w", err)
	}
	p := params{form: r.Form}
	p.token = p.form.Get("token")
	return p, nil
}

// Get returns an argument as a string: JSON strings unquoted, other JSON values verbatim.
func (p params) Get(key string) string {
	if p.form != nil {
		return p.form.Get(key)
	}
	raw, ok := p.json[key]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if string(raw) == "null" {
		return ""
	}
	return string(raw)
}

// Raw returns a JSON-valued argument (blocks, attachments, view), whether it
// came as a JSON string inside a form or as JSON, or nil when absent.
func (p params) Raw(key string) json.RawMessage {
	if p.form != nil {
		if v := p.form.Get(key); v != "" {
			return json.RawMessage(v)
		}
		return nil
	}
	raw, ok := p.json[key]
	if !ok || string(raw) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return json.RawMessage(s)
	}
	return raw
}

// Bool reads a boolean argument as Slack does ("true"/"1").
func (p params) Bool(key string) bool {
	v := strings.ToLower(p.Get(key))
	return v == "true" || v == "1"
}

// recordedForm is the form without the token, for recordings.
func (p params) recordedForm() url.Values {
	if p.form == nil {
		return nil
	}
	out := url.Values{}
	for k, v := range p.form {
		if k != "token" {
			out[k] = append([]string(nil), v...)
		}
	}
	return out
}
