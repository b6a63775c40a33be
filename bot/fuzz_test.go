package bot_test

import (
	"strings"
	"testing"
	"unicode"

	"github.com/tollgate-dev/tollgate/bot"
)

// looksLikeRepo is the parser's rule for an "owner/name" first field.
func looksLikeRepo(s string) bool {
	return strings.Count(s, "/") == 1 && !strings.HasPrefix(s, "/") && !strings.HasSuffix(s, "/")
}

// isSubcommand reports whether a first field would be read as a subcommand.
func isSubcommand(s string) bool {
	switch bot.CommandKind(strings.ToLower(s)) {
	case bot.CmdHelp, bot.CmdLink, bot.CmdUnlink, bot.CmdWhoami, bot.CmdCancel,
		bot.CmdRollback, bot.CmdEmergency, bot.CmdStatus, bot.CmdHistory, bot.CmdLock, bot.CmdUnlock:
		return true
	}
	return false
}

// formatSlash writes c back as the text after /deploy, naming the
// repository only when the channel default would not give it back.
func formatSlash(c bot.Command, defaultRepo string) string {
	var f []string
	add := func(s ...string) {
		for _, x := range s {
			if x != "" {
				f = append(f, x)
			}
		}
	}
	repoAndEnv := func(needRepo bool) {
		if needRepo || c.Repo != defaultRepo || looksLikeRepo(c.Environment) {
			add(c.Repo)
		}
		add(c.Environment)
	}
	switch c.Kind {
	case bot.CmdHelp:
		return "help"
	case bot.CmdLink, bot.CmdUnlink, bot.CmdWhoami:
		add(string(c.Kind))
	case bot.CmdCancel:
		add(string(c.Kind), c.RequestID)
	case bot.CmdDeploy:
		// Without a repository in front, an environment named like a
		// subcommand would be read as that subcommand.
		repoAndEnv(isSubcommand(c.Environment))
		add(c.Ref, c.Reason)
	case bot.CmdEmergency:
		add(string(c.Kind))
		repoAndEnv(false)
		add(c.Ref, c.Reason)
	case bot.CmdRollback:
		add(string(c.Kind))
		repoAndEnv(false)
		add(c.Release)
	case bot.CmdLock:
		add(string(c.Kind))
		repoAndEnv(false)
		add(c.Reason)
	case bot.CmdStatus, bot.CmdHistory, bot.CmdUnlock:
		add(string(c.Kind))
		repoAndEnv(false)
	}
	return strings.Join(f, " ")
}

// checkFields asserts what every parsed command promises its callers: one
// word per field, and a reason whose words are joined by single spaces.
func checkFields(t *testing.T, c bot.Command) {
	t.Helper()
	for name, v := range map[string]string{"repo": c.Repo, "environment": c.Environment, "ref": c.Ref,
		"release": c.Release, "request id": c.RequestID} {
		if strings.IndexFunc(v, unicode.IsSpace) >= 0 {
			t.Fatalf("%s %q holds white space", name, v)
		}
	}
	if c.Reason != strings.Join(strings.Fields(c.Reason), " ") {
		t.Fatalf("reason %q is not normalised", c.Reason)
	}
}

// checkRefusal asserts a parse error is a bad_command refusal a user can read.
func checkRefusal(t *testing.T, err error) {
	t.Helper()
	ref, ok := bot.AsRefusal(err)
	if !ok || ref.Code != bot.CodeBadCommand || ref.Reason == "" {
		t.Fatalf("parse error is not a bad_command refusal: %v", err)
	}
}

// FuzzParseSlashCommand checks that the /deploy parser never panics, refuses
// only with a bad_command refusal, and that a parsed command written back
// as text parses to the same command (parse → format → parse is stable).
func FuzzParseSlashCommand(f *testing.F) {
	for _, seed := range []struct{ text, repo string }{
		{"", ""},
		{"production", "acme/api"},
		{"acme/api production main OPS-12 new checkout", ""},
		{"rollback acme/api production 20240101T000000Z-abc1234", ""},
		{"emergency production hotfix INC-7 db is down", "acme/api"},
		{"status", ""},
		{"status acme/web", ""},
		{"history production", "acme/api"},
		{"lock production  release   freeze", "acme/api"},
		{"unlock production", "acme/api"},
		{"cancel r-42", ""},
		{"LINK", ""},
		{"acme/api status", "acme/api"},
		{"acme/api a/b", "acme/api"},
		{"/x y", "acme/api"},
		{"\tdeploy\u00a0 prod\n", "acme/api"},
	} {
		f.Add(seed.text, seed.repo)
	}
	f.Fuzz(func(t *testing.T, text, defaultRepo string) {
		if strings.ContainsFunc(defaultRepo, unicode.IsSpace) {
			return // channel mappings are validated owner/name repositories
		}
		c, err := bot.ParseSlashCommand(text, defaultRepo)
		if err != nil {
			checkRefusal(t, err)
			if c != (bot.Command{}) {
				t.Fatalf("a command %+v along with the error %v", c, err)
			}
			return
		}
		checkFields(t, c)
		if c.Kind != bot.CmdHelp && c.Kind != bot.CmdLink && c.Kind != bot.CmdUnlink && c.Kind != bot.CmdWhoami &&
			c.Kind != bot.CmdCancel && c.Kind != bot.CmdStatus && (c.Repo == "" || c.Environment == "") {
			t.Fatalf("%s without repository or environment: %+v", c.Kind, c)
		}
		text2 := formatSlash(c, defaultRepo)
		c2, err := bot.ParseSlashCommand(text2, defaultRepo)
		if err != nil || c2 != c {
			t.Fatalf("parse(%q) = %+v; written back as %q it parses to %+v, %v", text, c, text2, c2, err)
		}
	})
}

// formatComment writes c back as a PR comment's first line, naming the
// repository only where the environment alone would be misread.
func formatComment(c bot.Command) string {
	repo := ""
	if looksLikeRepo(c.Environment) || (c.Kind == bot.CmdDeploy && strings.EqualFold(c.Environment, string(bot.CmdRollback))) {
		repo = c.Repo
	}
	join := func(s ...string) string { return strings.Join(strings.Fields(strings.Join(s, " ")), " ") }
	switch c.Kind {
	case bot.CmdApprove:
		return join("/approve", c.RequestID)
	case bot.CmdReject:
		return join("/reject", c.RequestID, c.Reason)
	case bot.CmdRollback:
		return join("/deploy rollback", repo, c.Environment, c.Release)
	default:
		return join("/deploy", repo, c.Environment, c.Ref, c.Reason)
	}
}

// FuzzParseComment checks that the PR comment parser never panics, only
// reads the first line, never deploys another repository than the PR's,
// and that a parsed command written back parses to the same command.
func FuzzParseComment(f *testing.F) {
	for _, seed := range []struct{ body, repo string }{
		{"/deploy production", "acme/api"},
		{"/deploy rollback production", "acme/api"},
		{"/deploy acme/web production", "acme/api"},
		{"/approve r-1", "acme/api"},
		{"/reject r-1 tests are red", "acme/api"},
		{"LGTM\n/deploy production", "acme/api"},
		{"  /Deploy   staging  feature/x  OPS-1 try it \r\nmore", "acme/api"},
		{"/reject r-1", "acme/api"},
		{"", ""},
	} {
		f.Add(seed.body, seed.repo)
	}
	f.Fuzz(func(t *testing.T, body, repo string) {
		if strings.ContainsFunc(repo, unicode.IsSpace) {
			return // the repository comes from GitHub's payload: owner/name
		}
		c, ok, err := bot.ParseComment(body, repo)
		first, _, _ := strings.Cut(strings.TrimSpace(body), "\n")
		c1, ok1, err1 := bot.ParseComment(first+"\n/deploy elsewhere now", repo)
		if first != "" && (c1 != c || ok1 != ok || (err1 == nil) != (err == nil)) {
			t.Fatalf("lines after the first changed the result: %+v %v %v vs %+v %v %v", c, ok, err, c1, ok1, err1)
		}
		if !ok {
			if err != nil || c != (bot.Command{}) {
				t.Fatalf("not a command, yet %+v, %v", c, err)
			}
			return
		}
		if err != nil {
			checkRefusal(t, err)
			return
		}
		checkFields(t, c)
		if c.Repo != repo {
			t.Fatalf("comment on %q parsed as a command for %q", repo, c.Repo)
		}
		if (c.Kind == bot.CmdDeploy || c.Kind == bot.CmdRollback) && c.Environment == "" {
			t.Fatalf("deploy without an environment: %+v", c)
		}
		line := formatComment(c)
		c2, ok2, err2 := bot.ParseComment(line, repo)
		if !ok2 || err2 != nil || c2 != c {
			t.Fatalf("parse(%q) = %+v; written back as %q it parses to %+v, %v, %v", body, c, line, c2, ok2, err2)
		}
	})
}
