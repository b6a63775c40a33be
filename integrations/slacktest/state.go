package slacktest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// User is a workspace member as users.info reports it.
type User struct {
	ID       string
	TeamID   string
	Name     string
	RealName string
	Email    string
	Deleted  bool
	IsBot    bool
}

// Message is the current version of a message, with its edit history.
type Message struct {
	Channel  string
	TS       string
	ThreadTS string // the parent's ts for a thread reply, "" otherwise
	// Broadcast is set on a thread reply also sent to the channel.
	Broadcast   bool
	User        string
	BotID       string
	Text        string
	Blocks      json.RawMessage // as posted; nil when the message has none
	Attachments json.RawMessage
	Deleted     bool
	// EditedTS is when the message was last edited, "" if never.
	EditedTS string
	// History lists every version, oldest first; the last one is current.
	History []MessageVersion
}

// MessageVersion is one version of a message's content.
type MessageVersion struct {
	At          time.Time
	Via         string // "chat.postMessage", "chat.update" or MethodResponseURL
	Text        string
	Blocks      json.RawMessage
	Attachments json.RawMessage
}

// Ephemeral is a message only one user saw, from chat.postEphemeral or a response_url.
type Ephemeral struct {
	Channel  string
	User     string
	TS       string
	ThreadTS string
	Text     string
	Blocks   json.RawMessage
	Via      string // "chat.postEphemeral" or MethodResponseURL
}

type channel struct {
	id       string
	name     string
	imUser   string // for a direct message channel, the other member
	messages []*Message
}

// AddChannel registers a channel; messages to unknown channels fail with channel_not_found.
func (s *Server) AddChannel(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.channels[id]; ok {
		c.name = name
		return
	}
	s.channels[id] = &channel{id: id, name: name}
}

// AddUser registers a member of the fake's workspace.
func (s *Server) AddUser(id, name string) {
	s.PutUser(User{ID: id, Name: name})
}

// PutUser registers or replaces a user; empty TeamID, RealName and Email are filled in.
func (s *Server) PutUser(u User) {
	if u.TeamID == "" {
		u.TeamID = s.opts.TeamID
	}
	if u.RealName == "" {
		u.RealName = u.Name
	}
	if u.Email == "" {
		u.Email = u.Name + "@example.com"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = &u
}

// SetUserDeleted marks a user deactivated (or active again), as when someone leaves.
func (s *Server) SetUserDeleted(id string, deleted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[id]; ok {
		u.Deleted = deleted
	}
}

// DMChannel is the ID of the bot's direct message channel with a user; posting
// to the user's ID posts there, as Slack does.
func DMChannel(userID string) string {
	return "D" + strings.TrimPrefix(userID, "U")
}

// lookupChannelLocked resolves a channel argument: an ID, a name with or without
// "#", or a user ID (the bot's DM with that user, created on first use).
func (s *Server) lookupChannelLocked(arg string) (*channel, bool) {
	if c, ok := s.channels[arg]; ok {
		return c, true
	}
	if u, ok := s.users[arg]; ok {
		id := DMChannel(u.ID)
		c, ok := s.channels[id]
		if !ok {
			c = &channel{id: id, imUser: u.ID}
			s.channels[id] = c
		}
		return c, true
	}
	name := strings.TrimPrefix(arg, "#")
	for _, c := range s.channels {
		if c.name != "" && c.name == name {
			return c, true
		}
	}
	return nil, false
}

func (c *channel) find(ts string) *Message {
	for _, m := range c.messages {
		if m.TS == ts {
			return m
		}
	}
	return nil
}

// nextTSLocked mints a Slack-like timestamp ("1700000000.000100") from the
// clock, strictly increasing even when the clock stands still.
func (s *Server) nextTSLocked() string {
	micros := s.opts.Now().UnixMicro()
	if micros <= s.lastTS {
		micros = s.lastTS + 1
	}
	s.lastTS = micros
	return fmt.Sprintf("%d.%06d", micros/1_000_000, micros%1_000_000)
}

func (s *Server) nextIDLocked(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s%08d", prefix, s.seq)
}

func (m *Message) clone() Message {
	out := *m
	out.History = slices.Clone(m.History)
	return out
}

func (s *Server) resolveChannelID(arg string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.lookupChannelLocked(arg); ok {
		return c.id
	}
	return arg
}

// Messages returns the channel's visible messages (top level, plus thread
// replies broadcast to the channel), oldest first, deleted ones left out.
// channel may be an ID, a name or a user ID (for the bot's DM).
func (s *Server) Messages(channel string) []Message {
	id := s.resolveChannelID(channel)
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.channels[id]
	if !ok {
		return nil
	}
	var out []Message
	for _, m := range c.messages {
		if !m.Deleted && (m.ThreadTS == "" || m.Broadcast) {
			out = append(out, m.clone())
		}
	}
	return out
}

// Thread returns the replies to the message at ts, oldest first, without the parent.
func (s *Server) Thread(channel, ts string) []Message {
	id := s.resolveChannelID(channel)
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.channels[id]
	if !ok {
		return nil
	}
	var out []Message
	for _, m := range c.messages {
		if m.ThreadTS == ts && !m.Deleted {
			out = append(out, m.clone())
		}
	}
	return out
}

// Message returns the current version of one message (deleted ones included,
// flagged), and whether it exists.
func (s *Server) Message(channel, ts string) (Message, bool) {
	id := s.resolveChannelID(channel)
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.channels[id]
	if !ok {
		return Message{}, false
	}
	m := c.find(ts)
	if m == nil {
		return Message{}, false
	}
	return m.clone(), true
}

// Ephemerals returns the ephemeral messages shown to a user, oldest first.
func (s *Server) Ephemerals(user string) []Ephemeral {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Ephemeral
	for _, e := range s.ephemerals {
		if e.User == user {
			out = append(out, e)
		}
	}
	return out
}
