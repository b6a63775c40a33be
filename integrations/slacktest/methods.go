package slacktest

import (
	"encoding/json"
	"time"
)

func (s *Server) usersInfo(p params) (map[string]any, string) {
	u, ok := s.users[p.Get("user")]
	if !ok {
		return nil, "user_not_found"
	}
	return map[string]any{"user": map[string]any{
		"id":        u.ID,
		"team_id":   u.TeamID,
		"name":      u.Name,
		"deleted":   u.Deleted,
		"real_name": u.RealName,
		"tz":        "Etc/UTC",
		"tz_label":  "Coordinated Universal Time",
		"tz_offset": 0,
		"is_bot":    u.IsBot,
		"is_admin":  false,
		"is_owner":  false,
		"updated":   time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Unix(),
		"profile": map[string]any{
			"real_name":               u.RealName,
			"real_name_normalized":    u.RealName,
			"display_name":            u.Name,
			"display_name_normalized": u.Name,
			"email":                   u.Email,
			"team":                    u.TeamID,
		},
	}}, ""
}

// OpenedView is a modal opened through views.open.
type OpenedView struct {
	ID        string
	TriggerID string
	// View is the view as views.open returned it (with id, state and hash).
	View json.RawMessage
}

// Views returns the modals opened so far, oldest first.
func (s *Server) Views() []OpenedView {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]OpenedView(nil), s.views...)
}

func (s *Server) viewsOpen(p params) (map[string]any, string) {
	triggerID := p.Get("trigger_id")
	if triggerID == "" {
		return nil, "invalid_arguments"
	}
	var view map[string]json.RawMessage
	if raw := p.Raw("view"); raw == nil || json.Unmarshal(raw, &view) != nil {
		return nil, "invalid_arguments"
	}
	var viewType string
	if json.Unmarshal(view["type"], &viewType) != nil || viewType != "modal" {
		return nil, "invalid_arguments"
	}
	id := s.nextIDLocked("V")
	out := map[string]any{
		"id":               id,
		"team_id":          s.opts.TeamID,
		"type":             "modal",
		"private_metadata": "",
		"callback_id":      "",
		"external_id":      "",
		"state":            map[string]any{"values": map[string]any{}},
		"hash":             s.nextTSLocked() + ".fakehash",
		"clear_on_close":   false,
		"notify_on_close":  false,
		"root_view_id":     id,
		"previous_view_id": nil,
		"app_id":           s.opts.AppID,
		"bot_id":           s.opts.BotID,
		"blocks":           []any{},
	}
	for _, k := range []string{"title", "close", "submit", "blocks", "private_metadata", "callback_id", "external_id", "clear_on_close", "notify_on_close"} {
		if v, ok := view[k]; ok && string(v) != "null" {
			out[k] = v
		}
	}
	encoded, err := json.Marshal(out)
	if err != nil {
		return nil, "invalid_arguments"
	}
	s.views = append(s.views, OpenedView{ID: id, TriggerID: triggerID, View: encoded})
	return map[string]any{"view": json.RawMessage(encoded)}, ""
}

func (s *Server) authTest(params) (map[string]any, string) {
	return map[string]any{
		"url":                   "https://" + s.opts.TeamDomain + ".slack.com/",
		"team":                  s.opts.TeamName,
		"user":                  s.opts.BotName,
		"team_id":               s.opts.TeamID,
		"user_id":               s.opts.BotUserID,
		"bot_id":                s.opts.BotID,
		"is_enterprise_install": false,
	}, ""
}

func (s *Server) conversationsInfo(p params) (map[string]any, string) {
	c, ok := s.lookupChannelLocked(p.Get("channel"))
	if !ok {
		return nil, "channel_not_found"
	}
	info := map[string]any{
		"id":              c.id,
		"created":         int64(1700000000),
		"is_archived":     false,
		"is_private":      false,
		"is_im":           c.imUser != "",
		"is_channel":      c.imUser == "",
		"is_member":       true,
		"context_team_id": s.opts.TeamID,
	}
	if c.imUser != "" {
		info["user"] = c.imUser
	} else {
		info["name"] = c.name
		info["name_normalized"] = c.name
		info["is_general"] = false
	}
	return map[string]any{"channel": info}, ""
}
