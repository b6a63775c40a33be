package bot_test

import (
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
)

func TestParseSlashCommand(t *testing.T) {
	tests := []struct {
		name, text, repo string
		want             bot.Command
		bad              bool
	}{
		{name: "empty is help", text: "", want: bot.Command{Kind: bot.CmdHelp}},
		{name: "environment only", text: "production", repo: "acme/shop",
			want: bot.Command{Kind: bot.CmdDeploy, Repo: "acme/shop", Environment: "production"}},
		{name: "ref and reason", text: "production v1.2.3 OPS-12 new checkout", repo: "acme/shop",
			want: bot.Command{Kind: bot.CmdDeploy, Repo: "acme/shop", Environment: "production", Ref: "v1.2.3", Reason: "OPS-12 new checkout"}},
		{name: "explicit repository", text: "acme/api staging main", repo: "acme/shop",
			want: bot.Command{Kind: bot.CmdDeploy, Repo: "acme/api", Environment: "staging", Ref: "main"}},
		{name: "no repository for the channel", text: "production", bad: true},
		{name: "rollback to a release", text: "rollback production 20250314T100000Z-1111111", repo: "acme/shop",
			want: bot.Command{Kind: bot.CmdRollback, Repo: "acme/shop", Environment: "production", Release: "20250314T100000Z-1111111"}},
		{name: "emergency needs a reason", text: "emergency production main", repo: "acme/shop", bad: true},
		{name: "emergency", text: "emergency acme/shop production main checkout is down",
			want: bot.Command{Kind: bot.CmdEmergency, Repo: "acme/shop", Environment: "production", Ref: "main", Reason: "checkout is down"}},
		{name: "status of everything", text: "status", repo: "acme/shop", want: bot.Command{Kind: bot.CmdStatus, Repo: "acme/shop"}},
		{name: "history needs an environment", text: "history", repo: "acme/shop", bad: true},
		{name: "lock needs a reason", text: "lock production", repo: "acme/shop", bad: true},
		{name: "lock", text: "lock production db migration", repo: "acme/shop",
			want: bot.Command{Kind: bot.CmdLock, Repo: "acme/shop", Environment: "production", Reason: "db migration"}},
		{name: "cancel", text: "cancel r-7f3k2q", want: bot.Command{Kind: bot.CmdCancel, RequestID: "r-7f3k2q"}},
		{name: "cancel without id", text: "cancel", bad: true},
		{name: "link", text: "LINK", want: bot.Command{Kind: bot.CmdLink}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := bot.ParseSlashCommand(tt.text, tt.repo)
			if tt.bad {
				if ref, ok := bot.AsRefusal(err); !ok || ref.Code != bot.CodeBadCommand || ref.Reason == "" {
					t.Fatalf("got %+v, %v; want a usage refusal", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseComment(t *testing.T) {
	tests := []struct {
		name, body string
		want       bot.Command
		ok, bad    bool
	}{
		{name: "plain comment", body: "LGTM, ship it"},
		{name: "command not on the first line", body: "thanks!\n/deploy production"},
		{name: "deploy", body: "/deploy staging\nplease", ok: true,
			want: bot.Command{Kind: bot.CmdDeploy, Repo: "acme/shop", Environment: "staging"}},
		{name: "rollback", body: "/deploy rollback production", ok: true,
			want: bot.Command{Kind: bot.CmdRollback, Repo: "acme/shop", Environment: "production"}},
		{name: "another repository", body: "/deploy acme/api production", ok: true, bad: true},
		{name: "approve", body: "/approve r-7f3k2q", ok: true,
			want: bot.Command{Kind: bot.CmdApprove, Repo: "acme/shop", RequestID: "r-7f3k2q"}},
		{name: "reject needs a reason", body: "/reject r-7f3k2q", ok: true, bad: true},
		{name: "reject", body: "/reject r-7f3k2q tests are flaky", ok: true,
			want: bot.Command{Kind: bot.CmdReject, Repo: "acme/shop", RequestID: "r-7f3k2q", Reason: "tests are flaky"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := bot.ParseComment(tt.body, "acme/shop")
			if ok != tt.ok || (err != nil) != tt.bad || (!tt.bad && got != tt.want) {
				t.Fatalf("got %+v ok=%v err=%v; want %+v ok=%v bad=%v", got, ok, err, tt.want, tt.ok, tt.bad)
			}
		})
	}
}
