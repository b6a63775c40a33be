package slacktest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"time"
)

// BlockActionParams describe a click on a button in a message; empty optional
// fields take defaults (TeamDomain, ChannelName, APIAppID, TriggerID, ActionTS).
type BlockActionParams struct {
	TeamID      string
	TeamDomain  string
	UserID      string
	UserName    string
	ChannelID   string
	ChannelName string
	MessageTS   string
	// ThreadTS is set when the clicked message is a thread reply.
	ThreadTS string
	// Message is the clicked message as Slack includes it (Server.MessagePayload
	// gives the current one); when nil a minimal message with MessageTS is sent.
	Message     json.RawMessage
	ActionID    string
	BlockID     string
	Value       string
	ButtonText  string
	ActionTS    string
	ResponseURL string
	TriggerID   string
	APIAppID    string
}

// BlockActionBody is the form body ("payload=<JSON>") Slack sends for a click.
func BlockActionBody(p BlockActionParams) ([]byte, error) {
	setDefault(&p.TeamID, DefaultTeamID)
	setDefault(&p.TeamDomain, DefaultTeamDomain)
	setDefault(&p.ChannelName, defaultChannelName(p.ChannelID))
	setDefault(&p.APIAppID, DefaultAppID)
	setDefault(&p.TriggerID, NewTriggerID())
	setDefault(&p.ActionTS, actionTS(time.Now()))
	setDefault(&p.ButtonText, p.ActionID)
	message := p.Message
	if message == nil {
		minimal, err := json.Marshal(map[string]any{
			"type": "message", "ts": p.MessageTS, "text": "", "user": DefaultBotUserID,
			"bot_id": DefaultBotID, "app_id": p.APIAppID, "team": p.TeamID,
		})
		if err != nil {
			return nil, fmt.Errorf("encode message of block action: %w", err)
		}
		message = minimal
	}
	container := map[string]any{
		"type": "message", "message_ts": p.MessageTS, "channel_id": p.ChannelID, "is_ephemeral": false,
	}
	if p.ThreadTS != "" {
		container["thread_ts"] = p.ThreadTS
	}
	payload := map[string]any{
		"type":                  "block_actions",
		"user":                  map[string]any{"id": p.UserID, "username": p.UserName, "name": p.UserName, "team_id": p.TeamID},
		"api_app_id":            p.APIAppID,
		"token":                 VerificationToken,
		"container":             container,
		"trigger_id":            p.TriggerID,
		"team":                  map[string]any{"id": p.TeamID, "domain": p.TeamDomain},
		"enterprise":            nil,
		"is_enterprise_install": false,
		"channel":               map[string]any{"id": p.ChannelID, "name": p.ChannelName},
		"message":               message,
		"state":                 map[string]any{"values": map[string]any{}},
		"response_url":          p.ResponseURL,
		"actions": []any{map[string]any{
			"action_id": p.ActionID,
			"block_id":  p.BlockID,
			"text":      map[string]any{"type": "plain_text", "text": p.ButtonText, "emoji": true},
			"value":     p.Value,
			"type":      "button",
			"action_ts": p.ActionTS,
		}},
	}
	return payloadForm(payload)
}

// ViewSubmissionParams describe a modal's Submit; empty optional fields take
// defaults. View, when set (e.g. OpenedView.View), supplies the view's id,
// callback_id, private_metadata, blocks and hash; the explicit fields override it.
type ViewSubmissionParams struct {
	TeamID          string
	TeamDomain      string
	UserID          string
	UserName        string
	View            json.RawMessage
	ViewID          string
	CallbackID      string
	PrivateMetadata string
	Hash            string
	// Values are the submitted plain_text_input values: block_id → action_id → text.
	Values    map[string]map[string]string
	TriggerID string
	APIAppID  string
}

// ViewSubmissionBody is the form body ("payload=<JSON>") Slack sends for a modal submission.
func ViewSubmissionBody(p ViewSubmissionParams) ([]byte, error) {
	setDefault(&p.TeamID, DefaultTeamID)
	setDefault(&p.TeamDomain, DefaultTeamDomain)
	setDefault(&p.APIAppID, DefaultAppID)
	setDefault(&p.TriggerID, NewTriggerID())
	view := map[string]any{
		"id": "V0000000000", "team_id": p.TeamID, "type": "modal", "blocks": []any{},
		"private_metadata": "", "callback_id": "", "hash": "1700000000.fakehash",
		"title":          map[string]any{"type": "plain_text", "text": "Tollgate", "emoji": true},
		"clear_on_close": false, "notify_on_close": false, "close": nil, "submit": nil,
		"previous_view_id": nil, "root_view_id": "V0000000000", "app_id": p.APIAppID,
		"external_id": "", "app_installed_team_id": p.TeamID, "bot_id": DefaultBotID,
	}
	if p.View != nil {
		var given map[string]any
		if err := json.Unmarshal(p.View, &given); err != nil {
			return nil, fmt.Errorf("decode view of view submission: %w", err)
		}
		for k, v := range given {
			view[k] = v
		}
	}
	for key, value := range map[string]string{"id": p.ViewID, "callback_id": p.CallbackID, "private_metadata": p.PrivateMetadata, "hash": p.Hash} {
		if value != "" {
			view[key] = value
		}
	}
	if p.ViewID != "" {
		view["root_view_id"] = p.ViewID
	}
	values := map[string]any{}
	for blockID, actions := range p.Values {
		inputs := map[string]any{}
		for actionID, text := range actions {
			inputs[actionID] = map[string]any{"type": "plain_text_input", "value": text}
		}
		values[blockID] = inputs
	}
	view["state"] = map[string]any{"values": values}
	payload := map[string]any{
		"type":                  "view_submission",
		"team":                  map[string]any{"id": p.TeamID, "domain": p.TeamDomain},
		"user":                  map[string]any{"id": p.UserID, "username": p.UserName, "name": p.UserName, "team_id": p.TeamID},
		"api_app_id":            p.APIAppID,
		"token":                 VerificationToken,
		"trigger_id":            p.TriggerID,
		"view":                  view,
		"response_urls":         []any{},
		"is_enterprise_install": false,
		"enterprise":            nil,
	}
	return payloadForm(payload)
}

func payloadForm(payload map[string]any) ([]byte, error) {
	encoded, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode %v payload: %w", payload["type"], err)
	}
	return []byte("payload=" + url.QueryEscape(string(encoded))), nil
}

// MessagePayload is the current version of a message as Slack puts it in a
// block_actions payload, or nil when there is no such message.
func (s *Server) MessagePayload(channel, ts string) json.RawMessage {
	id := s.resolveChannelID(channel)
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.channels[id]
	if !ok {
		return nil
	}
	m := c.find(ts)
	if m == nil {
		return nil
	}
	encoded, err := json.Marshal(s.messageJSON(m))
	if err != nil {
		return nil
	}
	return encoded
}
