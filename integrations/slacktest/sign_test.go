package slacktest

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

const testSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// TestSignMatchesSlackDocumentedExample checks Sign against the worked example
// in Slack's "verifying requests" guide.
func TestSignMatchesSlackDocumentedExample(t *testing.T) {
	body := []byte("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
	h := Signer{Secret: testSecret}.Sign(body, time.Unix(1531420618, 0))
	if got := h.Get(HeaderTimestamp); got != "1531420618" {
		t.Errorf("timestamp = %q", got)
	}
	if got, want := h.Get(HeaderSignature), "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"; got != want {
		t.Errorf("signature = %q, want %q", got, want)
	}
}

// received is what the test app saw of one request.
type received struct {
	header    http.Header
	verifyErr error
	form      *http.Request // re-readable copy for slack-go's parsers
}

// slackApp stands in for Tollgate: it verifies each request with slack-go's
// own verifier and keeps it for the test to parse.
func slackApp(t *testing.T, secret string) (string, chan received) {
	t.Helper()
	got := make(chan received, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec := received{header: r.Header.Clone()}
		sv, err := slack.NewSecretsVerifier(r.Header, secret)
		if err == nil {
			_, _ = sv.Write(body)
			err = sv.Ensure()
		}
		rec.verifyErr = err
		rec.form = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		rec.form.Header.Set("Content-Type", r.Header.Get("Content-Type"))
		got <- rec
	}))
	t.Cleanup(srv.Close)
	return srv.URL, got
}

func send(t *testing.T, resp *http.Response, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	resp.Body.Close()
}

func TestSlashCommandVerifiesAndParses(t *testing.T) {
	target, got := slackApp(t, testSecret)
	p := SlashCommandParams{UserID: alice, UserName: "alice", ChannelID: testChannel, Text: "production main", ResponseURL: "http://fake/response/R1", TriggerID: "1.2.abc"}
	resp, err := SlashCommand(t.Context(), target, testSecret, p)
	send(t, resp, err)
	rec := <-got
	if rec.verifyErr != nil {
		t.Fatalf("slack.NewSecretsVerifier refused our signature: %v", rec.verifyErr)
	}
	cmd, err := slack.SlashCommandParse(rec.form)
	if err != nil {
		t.Fatalf("SlashCommandParse: %v", err)
	}
	want := slack.SlashCommand{
		Token: VerificationToken, TeamID: DefaultTeamID, TeamDomain: DefaultTeamDomain, ChannelID: testChannel,
		ChannelName: "deploys", UserID: alice, UserName: "alice", Command: "/deploy", Text: "production main",
		ResponseURL: "http://fake/response/R1", TriggerID: "1.2.abc", APIAppID: DefaultAppID,
	}
	if cmd != want {
		t.Errorf("parsed = %+v\nwant     %+v", cmd, want)
	}
	if rec.header.Get("Content-Type") != "application/x-www-form-urlencoded" || rec.header.Get(HeaderRetryNum) != "" {
		t.Errorf("headers = %v", rec.header)
	}
}

func TestBlockActionVerifiesAndParses(t *testing.T) {
	s := newTestServer(t, Options{})
	_, ts, err := s.Client().PostMessageContext(t.Context(), testChannel, slack.MsgOptionText("awaiting approval", false), slack.MsgOptionBlocks(approvalBlocks()...))
	if err != nil {
		t.Fatal(err)
	}
	target, got := slackApp(t, testSecret)
	responseURL := s.NewResponseURLFor(ResponseTarget{Channel: testChannel, User: bob, MessageTS: ts})
	resp, err := BlockAction(t.Context(), target, testSecret, BlockActionParams{
		UserID: bob, UserName: "bob", ChannelID: testChannel, MessageTS: ts, Message: s.MessagePayload(testChannel, ts),
		ActionID: "approve", BlockID: "decide", Value: "req-1:nonce", ResponseURL: responseURL, TriggerID: "9.8.def",
	})
	send(t, resp, err)
	rec := <-got
	if rec.verifyErr != nil {
		t.Fatalf("verifier refused: %v", rec.verifyErr)
	}
	cb, err := slack.InteractionCallbackParse(rec.form)
	if err != nil {
		t.Fatalf("InteractionCallbackParse: %v", err)
	}
	if cb.Type != slack.InteractionTypeBlockActions || cb.User.ID != bob || cb.User.Name != "bob" || cb.Team.ID != DefaultTeamID ||
		cb.Channel.ID != testChannel || cb.Container.MessageTs != ts || cb.Container.ChannelID != testChannel ||
		cb.Message.Timestamp != ts || cb.Message.Text != "awaiting approval" || len(cb.Message.Blocks.BlockSet) != 2 ||
		cb.ResponseURL != responseURL || cb.TriggerID != "9.8.def" || cb.APIAppID != DefaultAppID {
		t.Errorf("parsed callback = %+v", cb)
	}
	if n := len(cb.ActionCallback.BlockActions); n != 1 {
		t.Fatalf("%d block actions, want 1", n)
	}
	a := cb.ActionCallback.BlockActions[0]
	if a.ActionID != "approve" || a.BlockID != "decide" || a.Value != "req-1:nonce" || a.Type != "button" || !tsPattern.MatchString(a.ActionTs) {
		t.Errorf("action = %+v", a)
	}
}

func TestViewSubmissionVerifiesAndParses(t *testing.T) {
	s := newTestServer(t, Options{})
	resp0, err := s.Client().OpenViewContext(t.Context(), "1.2.3", slack.ModalViewRequest{
		Type: slack.VTModal, Title: slack.NewTextBlockObject(slack.PlainTextType, "Reject", false, false),
		CallbackID: "reject", PrivateMetadata: "req-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	target, got := slackApp(t, testSecret)
	resp, err := ViewSubmission(t.Context(), target, testSecret, ViewSubmissionParams{
		UserID: bob, UserName: "bob", View: s.Views()[0].View,
		Values: map[string]map[string]string{"reason": {"text": "tests are red"}},
	})
	send(t, resp, err)
	rec := <-got
	if rec.verifyErr != nil {
		t.Fatalf("verifier refused: %v", rec.verifyErr)
	}
	cb, err := slack.InteractionCallbackParse(rec.form)
	if err != nil {
		t.Fatalf("InteractionCallbackParse: %v", err)
	}
	if cb.Type != slack.InteractionTypeViewSubmission || cb.User.ID != bob || cb.View.ID != resp0.ID ||
		cb.View.CallbackID != "reject" || cb.View.PrivateMetadata != "req-1" || cb.View.Hash != resp0.Hash {
		t.Errorf("parsed callback = %+v", cb)
	}
	if v := cb.View.State.Values["reason"]["text"]; v.Value != "tests are red" || v.Type != "plain_text_input" {
		t.Errorf("state value = %+v, want the reason", v)
	}
}

func TestSignedRequestsSlackWouldRefuse(t *testing.T) {
	p := SlashCommandParams{UserID: alice, ChannelID: testChannel, Text: "production"}
	tests := []struct {
		name   string
		secret string
		opts   []SendOption
		want   error
	}{
		{"six minutes old", testSecret, []SendOption{WithTimestamp(time.Now().Add(-6 * time.Minute))}, slack.ErrExpiredTimestamp},
		{"signed with another secret", "not-the-secret", nil, slack.ErrInvalidSignature},
		{"body changed after signing", testSecret, []SendOption{WithTamper(func(b []byte) []byte {
			return bytes.Replace(b, []byte("production"), []byte("staging"), 1)
		})}, slack.ErrInvalidSignature},
		{"four minutes old is still fine", testSecret, []SendOption{WithTimestamp(time.Now().Add(-4 * time.Minute))}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, got := slackApp(t, testSecret)
			resp, err := SlashCommand(t.Context(), target, tt.secret, p, tt.opts...)
			send(t, resp, err)
			if rec := <-got; !errors.Is(rec.verifyErr, tt.want) {
				t.Errorf("verifier said %v, want %v", rec.verifyErr, tt.want)
			}
		})
	}
}

func TestRetryHeadersAndExactReplay(t *testing.T) {
	target, got := slackApp(t, testSecret)
	body := SlashCommandBody(SlashCommandParams{UserID: alice, ChannelID: testChannel, Text: "production"})
	at := time.Now().Add(-time.Second)
	signer := Signer{Secret: testSecret}

	resp, err := signer.Post(t.Context(), target, "application/x-www-form-urlencoded", body, WithTimestamp(at))
	send(t, resp, err)
	first := <-got
	resp, err = signer.Post(t.Context(), target, "application/x-www-form-urlencoded", body, WithTimestamp(at), WithRetry(1, "http_timeout"))
	send(t, resp, err)
	retry := <-got

	if retry.header.Get(HeaderRetryNum) != "1" || retry.header.Get(HeaderRetryReason) != "http_timeout" {
		t.Errorf("retry headers = %v", retry.header)
	}
	if first.header.Get(HeaderSignature) != retry.header.Get(HeaderSignature) || retry.verifyErr != nil {
		t.Error("a retry of the same body at the same time must carry the same valid signature")
	}
}

func TestSignerClockAndHeaderEdits(t *testing.T) {
	at := time.Unix(1700000000, 0)
	h := Signer{Secret: testSecret, Now: func() time.Time { return at }}.Headers([]byte("payload=x"))
	if h.Get(HeaderTimestamp) != "1700000000" || !strings.HasPrefix(h.Get(HeaderSignature), "v0=") {
		t.Errorf("headers = %v, want the injected clock's time", h)
	}

	target, got := slackApp(t, testSecret)
	resp, err := SlashCommand(t.Context(), target, testSecret, SlashCommandParams{UserID: alice}, WithHeaders(func(h http.Header) { h.Del(HeaderSignature) }))
	send(t, resp, err)
	if rec := <-got; rec.verifyErr == nil {
		t.Error("a request without a signature verified")
	}
}
