package slacktest

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

const (
	testChannel = "C0DEPLOYS"
	alice       = "U0ALICE"
	bob         = "U0BOB"
)

// newTestServer starts a fake with one channel and two users, closed at test end.
func newTestServer(t *testing.T, opts Options) *Server {
	t.Helper()
	s := New(opts)
	t.Cleanup(s.Close)
	s.AddChannel(testChannel, "deploys")
	s.AddUser(alice, "alice")
	s.AddUser(bob, "bob")
	return s
}

func approvalBlocks() []slack.Block {
	return []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*web* → production", false, false), nil, nil),
		slack.NewActionBlock("decide",
			slack.NewButtonBlockElement("approve", "req-1:nonce", slack.NewTextBlockObject(slack.PlainTextType, "Approve", false, false)),
		),
	}
}

func slackError(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

var tsPattern = regexp.MustCompile(`^\d{10}\.\d{6}$`)

func TestPostMessageWithBlocks(t *testing.T) {
	s := newTestServer(t, Options{})
	api := s.Client()

	channel, ts, err := api.PostMessageContext(t.Context(), "#deploys",
		slack.MsgOptionText("web → production", false), slack.MsgOptionBlocks(approvalBlocks()...))
	if err != nil {
		t.Fatalf("PostMessage: %v", err)
	}
	if channel != testChannel {
		t.Errorf("channel = %q, want the ID %q for #deploys", channel, testChannel)
	}
	if !tsPattern.MatchString(ts) {
		t.Errorf("ts = %q, want Slack's 1700000000.000100 shape", ts)
	}
	msgs := s.Messages(testChannel)
	if len(msgs) != 1 {
		t.Fatalf("Messages = %d, want 1", len(msgs))
	}
	m := msgs[0]
	if m.TS != ts || m.Text != "web → production" || m.User != s.BotUserID() || m.BotID != DefaultBotID {
		t.Errorf("message = %+v, want ts %s, the text and the bot as author", m, ts)
	}
	var blocks []map[string]any
	if err := json.Unmarshal(m.Blocks, &blocks); err != nil || len(blocks) != 2 || blocks[1]["block_id"] != "decide" {
		t.Errorf("blocks = %s (%v), want the section and the decide actions block", m.Blocks, err)
	}
	calls := s.CallsTo("chat.postMessage")
	if len(calls) != 1 || calls[0].Params.Get("channel") != "#deploys" || calls[0].Params.Has("token") {
		t.Errorf("recorded calls = %+v, want one with channel and without the token", calls)
	}
}

func TestThreadReplies(t *testing.T) {
	s := newTestServer(t, Options{})
	api := s.Client()
	_, parent, err := api.PostMessageContext(t.Context(), testChannel, slack.MsgOptionText("approval", false))
	if err != nil {
		t.Fatalf("post parent: %v", err)
	}
	for _, text := range []string{"queued", "running on web-1"} {
		if _, _, err := api.PostMessageContext(t.Context(), testChannel, slack.MsgOptionText(text, false), slack.MsgOptionTS(parent)); err != nil {
			t.Fatalf("reply %q: %v", text, err)
		}
	}
	_, _, err = api.PostMessageContext(t.Context(), testChannel, slack.MsgOptionText("orphan", false), slack.MsgOptionTS("1.000001"))
	if got := slackError(err); got != "thread_not_found" {
		t.Errorf("reply to a missing thread: error %q, want thread_not_found", got)
	}

	if n := len(s.Messages(testChannel)); n != 1 {
		t.Errorf("channel shows %d messages, want only the parent", n)
	}
	thread := s.Thread(testChannel, parent)
	if len(thread) != 2 || thread[0].Text != "queued" || thread[1].Text != "running on web-1" || thread[1].ThreadTS != parent {
		t.Errorf("thread = %+v, want the two replies in order under %s", thread, parent)
	}
	if !(thread[0].TS > parent && thread[1].TS > thread[0].TS) {
		t.Errorf("timestamps %s, %s, %s are not increasing", parent, thread[0].TS, thread[1].TS)
	}
}

func TestUpdateKeepsHistory(t *testing.T) {
	s := newTestServer(t, Options{})
	api := s.Client()
	_, ts, err := api.PostMessageContext(t.Context(), testChannel, slack.MsgOptionText("awaiting approval", false), slack.MsgOptionBlocks(approvalBlocks()...))
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	done := slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "approved by bob", false, false), nil, nil)
	channel, updatedTS, text, err := api.UpdateMessageContext(t.Context(), testChannel, ts, slack.MsgOptionText("approved", false), slack.MsgOptionBlocks(done))
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if channel != testChannel || updatedTS != ts || text != "approved" {
		t.Errorf("update returned (%q, %q, %q), want (%q, %q, %q)", channel, updatedTS, text, testChannel, ts, "approved")
	}
	m, ok := s.Message(testChannel, ts)
	if !ok {
		t.Fatal("message gone after update")
	}
	if m.Text != "approved" || len(m.History) != 2 || m.History[0].Text != "awaiting approval" || m.EditedTS == "" {
		t.Errorf("message = %+v, want the new text with the old version in History", m)
	}
	var blocks []map[string]any
	if err := json.Unmarshal(m.Blocks, &blocks); err != nil || len(blocks) != 1 {
		t.Errorf("current blocks = %s, want only the approved section (buttons gone)", m.Blocks)
	}
	if len(s.Messages(testChannel)) != 1 {
		t.Errorf("update created a new message instead of editing in place")
	}
}

func TestErrorsLikeSlack(t *testing.T) {
	s := newTestServer(t, Options{})
	api := s.Client()
	_, ts, err := api.PostMessageContext(t.Context(), testChannel, slack.MsgOptionText("x", false))
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"post to unknown channel", func() error {
			_, _, err := api.PostMessageContext(t.Context(), "C0NOPE", slack.MsgOptionText("x", false))
			return err
		}, "channel_not_found"},
		{"post without text or blocks", func() error {
			_, _, err := api.PostMessageContext(t.Context(), testChannel)
			return err
		}, "no_text"},
		{"update unknown message", func() error {
			_, _, _, err := api.UpdateMessageContext(t.Context(), testChannel, "1.000002", slack.MsgOptionText("y", false))
			return err
		}, "message_not_found"},
		{"update in unknown channel", func() error {
			_, _, _, err := api.UpdateMessageContext(t.Context(), "C0NOPE", ts, slack.MsgOptionText("y", false))
			return err
		}, "channel_not_found"},
		{"ephemeral to unknown user", func() error {
			_, err := api.PostEphemeralContext(t.Context(), testChannel, "U0NOBODY", slack.MsgOptionText("y", false))
			return err
		}, "user_not_in_channel"},
		{"unknown user", func() error {
			_, err := api.GetUserInfoContext(t.Context(), "U0NOBODY")
			return err
		}, "user_not_found"},
		{"unknown conversation", func() error {
			_, err := api.GetConversationInfoContext(t.Context(), &slack.GetConversationInfoInput{ChannelID: "C0NOPE"})
			return err
		}, "channel_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := slackError(tt.call()); got != tt.want {
				t.Errorf("error = %q, want %q", got, tt.want)
			}
		})
	}
	if n := len(s.Messages(testChannel)); n != 1 {
		t.Errorf("refused calls changed the channel: %d messages, want 1", n)
	}
}

func TestEphemeral(t *testing.T) {
	s := newTestServer(t, Options{})
	ts, err := s.Client().PostEphemeralContext(t.Context(), testChannel, alice,
		slack.MsgOptionText("you requested this deploy; someone else must approve it", false))
	if err != nil {
		t.Fatalf("PostEphemeral: %v", err)
	}
	got := s.Ephemerals(alice)
	if len(got) != 1 || got[0].TS != ts || got[0].Channel != testChannel || got[0].Via != "chat.postEphemeral" ||
		got[0].Text != "you requested this deploy; someone else must approve it" {
		t.Errorf("Ephemerals(alice) = %+v, want the one message with ts %s", got, ts)
	}
	if len(s.Ephemerals(bob)) != 0 || len(s.Messages(testChannel)) != 0 {
		t.Error("an ephemeral message was visible to others")
	}
}

func TestDirectMessageByUserID(t *testing.T) {
	s := newTestServer(t, Options{})
	channel, _, err := s.Client().PostMessageContext(t.Context(), bob, slack.MsgOptionText("review overdue", false))
	if err != nil {
		t.Fatalf("post to user: %v", err)
	}
	if channel != DMChannel(bob) {
		t.Errorf("channel = %q, want the DM %q", channel, DMChannel(bob))
	}
	if len(s.Messages(bob)) != 1 || len(s.Messages(DMChannel(bob))) != 1 {
		t.Error("DM not found by user ID and by DM channel ID")
	}
}

func TestUsersInfo(t *testing.T) {
	s := newTestServer(t, Options{})
	s.PutUser(User{ID: "U0CAROL", Name: "carol", RealName: "Carol Chen", Email: "carol@corp.example"})
	u, err := s.Client().GetUserInfoContext(t.Context(), "U0CAROL")
	if err != nil {
		t.Fatalf("GetUserInfo: %v", err)
	}
	if u.ID != "U0CAROL" || u.Name != "carol" || u.RealName != "Carol Chen" || u.TeamID != DefaultTeamID ||
		u.Profile.RealName != "Carol Chen" || u.Profile.DisplayName != "carol" || u.Profile.Email != "carol@corp.example" || u.Deleted {
		t.Errorf("user = %+v, want carol's fields", u)
	}
	s.SetUserDeleted("U0CAROL", true)
	if u, err := s.Client().GetUserInfoContext(t.Context(), "U0CAROL"); err != nil || !u.Deleted {
		t.Errorf("after deactivation: deleted=%v err=%v, want deleted", u != nil && u.Deleted, err)
	}
}

func TestViewsOpen(t *testing.T) {
	s := newTestServer(t, Options{})
	modal := slack.ModalViewRequest{
		Type:            slack.VTModal,
		Title:           slack.NewTextBlockObject(slack.PlainTextType, "Reject deploy", false, false),
		Submit:          slack.NewTextBlockObject(slack.PlainTextType, "Reject", false, false),
		CallbackID:      "reject",
		PrivateMetadata: "req-1",
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewInputBlock("reason", slack.NewTextBlockObject(slack.PlainTextType, "Why?", false, false), nil,
				slack.NewPlainTextInputBlockElement(nil, "text")),
		}},
	}
	resp, err := s.Client().OpenViewContext(t.Context(), "123.456.abc", modal)
	if err != nil {
		t.Fatalf("OpenView: %v", err)
	}
	if resp.ID == "" || resp.CallbackID != "reject" || resp.PrivateMetadata != "req-1" || resp.Title.Text != "Reject deploy" ||
		len(resp.Blocks.BlockSet) != 1 || resp.State == nil || resp.Hash == "" {
		t.Errorf("view = %+v, want the modal back with id, state and hash", resp.View)
	}
	views := s.Views()
	if len(views) != 1 || views[0].ID != resp.ID || views[0].TriggerID != "123.456.abc" {
		t.Errorf("Views() = %+v, want the opened modal", views)
	}
	if calls := s.CallsTo("views.open"); len(calls) != 1 || len(calls[0].JSON) == 0 {
		t.Errorf("views.open calls = %+v, want one with its JSON body recorded", calls)
	}
}

func TestAuthTestAndConversationsInfo(t *testing.T) {
	s := newTestServer(t, Options{})
	api := s.Client()
	auth, err := api.AuthTestContext(t.Context())
	if err != nil {
		t.Fatalf("AuthTest: %v", err)
	}
	if auth.TeamID != DefaultTeamID || auth.UserID != DefaultBotUserID || auth.BotID != DefaultBotID ||
		auth.User != DefaultBotName || auth.Team != DefaultTeamName || auth.URL == "" {
		t.Errorf("auth.test = %+v", auth)
	}
	ch, err := api.GetConversationInfoContext(t.Context(), &slack.GetConversationInfoInput{ChannelID: testChannel})
	if err != nil {
		t.Fatalf("conversations.info: %v", err)
	}
	if ch.ID != testChannel || ch.Name != "deploys" || !ch.IsChannel {
		t.Errorf("channel = %+v", ch)
	}
}

func TestInvalidTokenRefused(t *testing.T) {
	s := newTestServer(t, Options{})
	forged := slack.New("xoxb-forged-token", slack.OptionAPIURL(s.APIURL()))
	tests := []struct {
		name string
		call func() error
	}{
		{"form method with token field", func() error {
			_, _, err := forged.PostMessageContext(t.Context(), testChannel, slack.MsgOptionText("x", false))
			return err
		}},
		{"JSON method with bearer header", func() error {
			_, err := forged.OpenViewContext(t.Context(), "1.2.3", slack.ModalViewRequest{Type: slack.VTModal})
			return err
		}},
		{"auth.test", func() error {
			_, err := forged.AuthTestContext(t.Context())
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := slackError(tt.call()); got != "invalid_auth" {
				t.Errorf("error = %q, want invalid_auth", got)
			}
		})
	}
	if len(s.Messages(testChannel)) != 0 || len(s.Views()) != 0 {
		t.Error("a refused call had an effect")
	}
	_, err := slack.New("", slack.OptionAPIURL(s.APIURL())).PostEphemeralContext(t.Context(), testChannel, alice, slack.MsgOptionText("x", false))
	if got := slackError(err); got != "not_authed" {
		t.Errorf("without a token: error %q, want not_authed", got)
	}
}

func TestTimestampsIncreaseUnderAStoppedClock(t *testing.T) {
	frozen := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	s := newTestServer(t, Options{Now: func() time.Time { return frozen }})
	var last string
	for i := range 3 {
		_, ts, err := s.Client().PostMessageContext(t.Context(), testChannel, slack.MsgOptionText("x", false))
		if err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
		if ts <= last {
			t.Errorf("ts %q not after %q", ts, last)
		}
		last = ts
	}
	if want := "1709294400.000002"; last != want {
		t.Errorf("third ts = %q, want %q", last, want)
	}
}

// TestJSONBodyPostMessage covers clients that send chat.postMessage as JSON
// with a bearer token, which Slack also accepts.
func TestJSONBodyPostMessage(t *testing.T) {
	s := newTestServer(t, Options{})
	tests := []struct {
		name, auth, body, wantErr string
	}{
		{"bot token", "Bearer " + s.BotToken(), `{"channel":"C0DEPLOYS","text":"hi","blocks":[{"type":"divider"}]}`, ""},
		{"wrong token", "Bearer xoxb-wrong", `{"channel":"C0DEPLOYS","text":"hi"}`, "invalid_auth"},
		{"blocks not a list", "Bearer " + s.BotToken(), `{"channel":"C0DEPLOYS","blocks":{"type":"divider"}}`, "invalid_blocks_format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.APIURL()+"chat.postMessage", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json; charset=utf-8")
			req.Header.Set("Authorization", tt.auth)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got struct {
				OK    bool   `json:"ok"`
				Error string `json:"error"`
				TS    string `json:"ts"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if got.Error != tt.wantErr || got.OK != (tt.wantErr == "") {
				t.Errorf("answer = %+v, want error %q", got, tt.wantErr)
			}
		})
	}
	msgs := s.Messages(testChannel)
	if len(msgs) != 1 || string(msgs[0].Blocks) != `[{"type":"divider"}]` {
		t.Errorf("messages = %+v, want only the accepted one with its blocks", msgs)
	}
}

func TestUnknownMethod(t *testing.T) {
	s := newTestServer(t, Options{})
	if err := s.Client().DeleteFileContext(t.Context(), "F1"); err == nil {
		t.Error("files.delete succeeded against a fake that does not implement it")
	}
	calls := s.CallsTo("files.delete")
	if len(calls) != 1 || calls[0].Status != http.StatusNotFound || calls[0].Error != "unknown_method" {
		t.Errorf("recorded %+v, want one 404 unknown_method", calls)
	}
}
