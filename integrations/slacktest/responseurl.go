package slacktest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

const (
	responseURLPath = "/response/"
	// Slack lets an app use a response_url up to five times within thirty minutes.
	responseURLUses = 5
	responseURLTTL  = 30 * time.Minute
)

// ResponseTarget says where a response_url's messages land: the channel and
// user of the slash command or click, and for a click the message clicked
// (which replace_original and delete_original act on).
type ResponseTarget struct {
	Channel   string
	User      string
	MessageTS string
}

// ResponseURLPost is one accepted post to a response_url.
type ResponseURLPost struct {
	At              time.Time
	Body            json.RawMessage
	Text            string
	Blocks          json.RawMessage
	ResponseType    string // "ephemeral" (the default) or "in_channel"
	ReplaceOriginal bool
	DeleteOriginal  bool
	ThreadTS        string
}

type responseURL struct {
	target  ResponseTarget
	created time.Time
	posts   []ResponseURLPost
}

// responsePayload is what Slack accepts on a response_url.
type responsePayload struct {
	Text            string          `json:"text"`
	Blocks          json.RawMessage `json:"blocks"`
	Attachments     json.RawMessage `json:"attachments"`
	ResponseType    string          `json:"response_type"`
	ReplaceOriginal bool            `json:"replace_original"`
	DeleteOriginal  bool            `json:"delete_original"`
	ThreadTS        string          `json:"thread_ts"`
}

// NewResponseURL mints a response_url that records what is posted to it.
func (s *Server) NewResponseURL() string {
	return s.NewResponseURLFor(ResponseTarget{})
}

// NewResponseURLFor mints a response_url whose posts also take effect:
// ephemeral ones reach target.User, in_channel ones are posted to
// target.Channel, and replace_original/delete_original edit target.MessageTS.
func (s *Server) NewResponseURLFor(target ResponseTarget) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if target.Channel != "" {
		if c, ok := s.lookupChannelLocked(target.Channel); ok {
			target.Channel = c.id
		}
	}
	id := s.nextIDLocked("R")
	s.responseURLs[id] = &responseURL{target: target, created: s.opts.Now()}
	return s.URL + responseURLPath + id
}

// ResponseURLBase is the prefix of every response_url this fake mints:
// what Tollgate's slack.response_url_base is set to when talking to it.
func (s *Server) ResponseURLBase() string { return s.URL + responseURLPath }

// ResponseURLPosts returns the accepted posts to a response_url, given as its
// id or its whole URL, oldest first.
func (s *Server) ResponseURLPosts(idOrURL string) []ResponseURLPost {
	id := idOrURL[strings.LastIndex(idOrURL, "/")+1:]
	s.mu.Lock()
	defer s.mu.Unlock()
	if ru, ok := s.responseURLs[id]; ok {
		return append([]ResponseURLPost(nil), ru.posts...)
	}
	return nil
}

func (s *Server) serveResponseURL(w http.ResponseWriter, r *http.Request, id string) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	call := Call{Method: MethodResponseURL, JSON: body}
	if err != nil {
		call.Error = "invalid_payload"
		s.finish(w, call, http.StatusBadRequest, errorBody(call.Error))
		return
	}
	if r.Method != http.MethodPost {
		call.Error = "invalid_method"
		s.finish(w, call, http.StatusMethodNotAllowed, errorBody(call.Error))
		return
	}
	if !s.applyFaults(w, r, &call) {
		return
	}
	status, slackErr := s.acceptResponse(id, body)
	if slackErr != "" {
		call.Error = slackErr
		s.finish(w, call, status, errorBody(slackErr))
		return
	}
	s.finish(w, call, http.StatusOK, map[string]any{"ok": true})
}

// acceptResponse validates a response_url post and applies it, returning the
// HTTP status and Slack error when it is refused.
func (s *Server) acceptResponse(id string, body []byte) (int, string) {
	var payload responsePayload
	if json.Unmarshal(body, &payload) != nil {
		return http.StatusBadRequest, "invalid_payload"
	}
	if payload.Blocks != nil && string(payload.Blocks) != "null" && !isJSONArray(payload.Blocks) {
		return http.StatusBadRequest, "invalid_blocks_format"
	}
	if string(payload.Blocks) == "null" {
		payload.Blocks = nil
	}
	if string(payload.Attachments) == "null" {
		payload.Attachments = nil
	}
	if !payload.DeleteOriginal && payload.Text == "" && payload.Blocks == nil && payload.Attachments == nil {
		return http.StatusBadRequest, "no_text"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ru, ok := s.responseURLs[id]
	switch {
	case !ok:
		return http.StatusNotFound, "expired_url"
	case len(ru.posts) >= responseURLUses:
		return http.StatusNotFound, "used_url"
	case s.opts.Now().Sub(ru.created) > responseURLTTL:
		return http.StatusNotFound, "expired_url"
	}
	if payload.ResponseType == "" {
		payload.ResponseType = "ephemeral"
	}
	ru.posts = append(ru.posts, ResponseURLPost{
		At: s.opts.Now(), Body: body, Text: payload.Text, Blocks: payload.Blocks,
		ResponseType: payload.ResponseType, ReplaceOriginal: payload.ReplaceOriginal,
		DeleteOriginal: payload.DeleteOriginal, ThreadTS: payload.ThreadTS,
	})
	s.applyResponseLocked(ru.target, payload)
	return http.StatusOK, ""
}

// applyResponseLocked makes a response visible where Slack would show it.
func (s *Server) applyResponseLocked(t ResponseTarget, p responsePayload) {
	c := s.channels[t.Channel]
	if c == nil {
		return
	}
	switch {
	case p.DeleteOriginal:
		if m := c.find(t.MessageTS); m != nil {
			m.Deleted = true
		}
	case p.ReplaceOriginal:
		if m := c.find(t.MessageTS); m != nil && !m.Deleted {
			s.replaceContentLocked(m, MethodResponseURL, p.Text, p.Blocks, p.Attachments)
		}
	case p.ResponseType == "in_channel":
		m := &Message{
			Channel: c.id, TS: s.nextTSLocked(), ThreadTS: p.ThreadTS,
			User: s.opts.BotUserID, BotID: s.opts.BotID,
			Text: p.Text, Blocks: p.Blocks, Attachments: p.Attachments,
		}
		m.History = []MessageVersion{{At: s.opts.Now(), Via: MethodResponseURL, Text: p.Text, Blocks: p.Blocks, Attachments: p.Attachments}}
		c.messages = append(c.messages, m)
	case t.User != "":
		s.ephemerals = append(s.ephemerals, Ephemeral{
			Channel: c.id, User: t.User, TS: s.nextTSLocked(), ThreadTS: p.ThreadTS,
			Text: p.Text, Blocks: p.Blocks, Via: MethodResponseURL,
		})
	}
}
