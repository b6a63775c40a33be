package slacktest

import (
	"encoding/json"
)

// content reads and checks a message's text, blocks and attachments.
func content(p params) (text string, blocks, attachments json.RawMessage, slackErr string) {
	text, blocks, attachments = p.Get("text"), p.Raw("blocks"), p.Raw("attachments")
	if blocks != nil && !isJSONArray(blocks) {
		return "", nil, nil, "invalid_blocks_format"
	}
	if attachments != nil && !isJSONArray(attachments) {
		return "", nil, nil, "invalid_attachments"
	}
	if text == "" && blocks == nil && attachments == nil {
		return "", nil, nil, "no_text"
	}
	return text, blocks, attachments, ""
}

func isJSONArray(raw json.RawMessage) bool {
	var v []json.RawMessage
	return json.Unmarshal(raw, &v) == nil
}

func (s *Server) chatPostMessage(p params) (map[string]any, string) {
	c, ok := s.lookupChannelLocked(p.Get("channel"))
	if !ok {
		return nil, "channel_not_found"
	}
	text, blocks, attachments, slackErr := content(p)
	if slackErr != "" {
		return nil, slackErr
	}
	threadTS := p.Get("thread_ts")
	if threadTS != "" {
		parent := c.find(threadTS)
		if parent == nil || parent.Deleted || parent.ThreadTS != "" {
			return nil, "thread_not_found"
		}
	}
	m := &Message{
		Channel:     c.id,
		TS:          s.nextTSLocked(),
		ThreadTS:    threadTS,
		Broadcast:   threadTS != "" && p.Bool("reply_broadcast"),
		User:        s.opts.BotUserID,
		BotID:       s.opts.BotID,
		Text:        text,
		Blocks:      blocks,
		Attachments: attachments,
	}
	m.History = []MessageVersion{{At: s.opts.Now(), Via: "chat.postMessage", Text: text, Blocks: blocks, Attachments: attachments}}
	c.messages = append(c.messages, m)
	return map[string]any{"channel": c.id, "ts": m.TS, "message": s.messageJSON(m)}, ""
}

func (s *Server) chatUpdate(p params) (map[string]any, string) {
	c, ok := s.lookupChannelLocked(p.Get("channel"))
	if !ok {
		return nil, "channel_not_found"
	}
	m := c.find(p.Get("ts"))
	if m == nil || m.Deleted {
		return nil, "message_not_found"
	}
	if m.User != s.opts.BotUserID {
		return nil, "cant_update_message"
	}
	text, blocks, attachments, slackErr := content(p)
	if slackErr != "" {
		return nil, slackErr
	}
	s.replaceContentLocked(m, "chat.update", text, blocks, attachments)
	return map[string]any{"channel": c.id, "ts": m.TS, "text": m.Text, "message": s.messageJSON(m)}, ""
}

// replaceContentLocked applies an edit, keeping the old version in History.
// chat.update keeps blocks and attachments it is not given; a response_url's
// replace_original replaces the whole message.
func (s *Server) replaceContentLocked(m *Message, via, text string, blocks, attachments json.RawMessage) {
	m.Text = text
	m.EditedTS = s.nextTSLocked()
	if blocks != nil || via == MethodResponseURL {
		m.Blocks = blocks
	}
	if attachments != nil || via == MethodResponseURL {
		m.Attachments = attachments
	}
	m.History = append(m.History, MessageVersion{At: s.opts.Now(), Via: via, Text: m.Text, Blocks: m.Blocks, Attachments: m.Attachments})
}

func (s *Server) chatPostEphemeral(p params) (map[string]any, string) {
	c, ok := s.lookupChannelLocked(p.Get("channel"))
	if !ok {
		return nil, "channel_not_found"
	}
	u, ok := s.users[p.Get("user")]
	if !ok || u.Deleted {
		return nil, "user_not_in_channel"
	}
	text, blocks, _, slackErr := content(p)
	if slackErr != "" {
		return nil, slackErr
	}
	ts := s.nextTSLocked()
	s.ephemerals = append(s.ephemerals, Ephemeral{
		Channel: c.id, User: u.ID, TS: ts, ThreadTS: p.Get("thread_ts"),
		Text: text, Blocks: blocks, Via: "chat.postEphemeral",
	})
	return map[string]any{"message_ts": ts}, ""
}

// messageJSON is a message as the Web API returns it.
func (s *Server) messageJSON(m *Message) map[string]any {
	out := map[string]any{
		"type":    "message",
		"text":    m.Text,
		"user":    m.User,
		"bot_id":  m.BotID,
		"app_id":  s.opts.AppID,
		"ts":      m.TS,
		"team":    s.opts.TeamID,
		"channel": m.Channel,
		"bot_profile": map[string]any{
			"id": s.opts.BotID, "app_id": s.opts.AppID, "name": s.opts.BotName,
			"team_id": s.opts.TeamID, "deleted": false,
		},
	}
	if m.Blocks != nil {
		out["blocks"] = m.Blocks
	}
	if m.Attachments != nil {
		out["attachments"] = m.Attachments
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
		out["parent_user_id"] = s.opts.BotUserID
	}
	if m.EditedTS != "" {
		out["edited"] = map[string]any{"user": s.opts.BotUserID, "ts": m.EditedTS}
	}
	return out
}
