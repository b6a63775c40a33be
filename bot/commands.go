package bot

import (
	"strings"
)

// CommandKind names a chat or comment command.
type CommandKind string

// Commands (issue 5; PR comments accept deploy, rollback, approve, reject).
const (
	CmdHelp      CommandKind = "help"
	CmdLink      CommandKind = "link"
	CmdUnlink    CommandKind = "unlink"
	CmdWhoami    CommandKind = "whoami"
	CmdDeploy    CommandKind = "deploy"
	CmdRollback  CommandKind = "rollback"
	CmdEmergency CommandKind = "emergency"
	CmdStatus    CommandKind = "status"
	CmdHistory   CommandKind = "history"
	CmdLock      CommandKind = "lock"
	CmdUnlock    CommandKind = "unlock"
	CmdCancel    CommandKind = "cancel"
	CmdApprove   CommandKind = "approve"
	CmdReject    CommandKind = "reject"
)

// CodeBadCommand refuses a command that does not parse; the reason is the usage.
const CodeBadCommand RefusalCode = "bad_command"

// Command is a parsed command. Parsing decides nothing: the caller checks
// names against the configuration and hands the command to the Service.
type Command struct {
	Kind        CommandKind
	Repo        string
	Environment string
	Ref         string // deploy, emergency; empty means the environment's first allowed branch
	Release     string // rollback
	RequestID   string // cancel, approve, reject
	Reason      string // deploy, emergency, lock, reject
}

// usage lists each command with an example; /deploy help shows it.
var usage = map[CommandKind]string{
	CmdDeploy:    "/deploy [owner/repo] <env> [ref] [reason…]   e.g. /deploy production main OPS-12 new checkout",
	CmdRollback:  "/deploy rollback [owner/repo] <env> [release]",
	CmdEmergency: "/deploy emergency [owner/repo] <env> <ref> <reason…>",
	CmdStatus:    "/deploy status [owner/repo] [env]",
	CmdHistory:   "/deploy history [owner/repo] <env>",
	CmdLock:      "/deploy lock [owner/repo] <env> <reason…>",
	CmdUnlock:    "/deploy unlock [owner/repo] <env>",
	CmdCancel:    "/deploy cancel <request-id>",
	CmdLink:      "/deploy link   (connect your GitHub account)",
	CmdUnlink:    "/deploy unlink",
	CmdWhoami:    "/deploy whoami",
	CmdApprove:   "/approve <request-id>",
	CmdReject:    "/reject <request-id> <reason…>",
}

// Usage returns the help text, one command a line.
func Usage() string {
	order := []CommandKind{CmdDeploy, CmdRollback, CmdEmergency, CmdStatus, CmdHistory, CmdLock, CmdUnlock,
		CmdCancel, CmdLink, CmdUnlink, CmdWhoami}
	lines := make([]string, len(order))
	for i, k := range order {
		lines[i] = usage[k]
	}
	return strings.Join(lines, "\n")
}

func badCommand(kind CommandKind) *Refusal {
	return &Refusal{Code: CodeBadCommand, Reason: "usage: " + usage[kind]}
}

// ParseSlashCommand parses the text after /deploy. defaultRepo is the
// repository the channel maps to ("" when none). Subcommand names win over
// environment names.
func ParseSlashCommand(text, defaultRepo string) (Command, error) {
	f := strings.Fields(text)
	if len(f) == 0 {
		return Command{Kind: CmdHelp}, nil
	}
	switch kind := CommandKind(strings.ToLower(f[0])); kind {
	case CmdHelp, CmdLink, CmdUnlink, CmdWhoami:
		return Command{Kind: kind}, nil
	case CmdCancel:
		if len(f) != 2 {
			return Command{}, badCommand(kind)
		}
		return Command{Kind: kind, RequestID: f[1]}, nil
	case CmdRollback, CmdEmergency, CmdStatus, CmdHistory, CmdLock, CmdUnlock:
		return parseEnvCommand(kind, f[1:], defaultRepo)
	default:
		return parseEnvCommand(CmdDeploy, f, defaultRepo)
	}
}

// parseEnvCommand parses "[repo] <env> rest…" for kind.
func parseEnvCommand(kind CommandKind, f []string, defaultRepo string) (Command, error) {
	c := Command{Kind: kind, Repo: defaultRepo}
	if len(f) > 0 && strings.Count(f[0], "/") == 1 && !strings.HasPrefix(f[0], "/") && !strings.HasSuffix(f[0], "/") {
		c.Repo, f = f[0], f[1:]
	}
	if kind == CmdStatus && len(f) == 0 {
		return c, nil
	}
	if len(f) == 0 {
		return Command{}, badCommand(kind)
	}
	c.Environment, f = f[0], f[1:]
	if c.Repo == "" {
		return Command{}, &Refusal{Code: CodeBadCommand,
			Reason: "this channel is not mapped to a repository; name it: " + usage[kind]}
	}
	switch kind {
	case CmdDeploy:
		if len(f) > 0 {
			c.Ref, c.Reason = f[0], strings.Join(f[1:], " ")
		}
	case CmdEmergency:
		if len(f) < 2 {
			return Command{}, badCommand(kind)
		}
		c.Ref, c.Reason = f[0], strings.Join(f[1:], " ")
	case CmdRollback:
		if len(f) > 1 {
			return Command{}, badCommand(kind)
		}
		if len(f) == 1 {
			c.Release = f[0]
		}
	case CmdLock:
		if len(f) == 0 {
			return Command{}, badCommand(kind)
		}
		c.Reason = strings.Join(f, " ")
	case CmdStatus, CmdHistory, CmdUnlock:
		if len(f) > 0 {
			return Command{}, badCommand(kind)
		}
	}
	return c, nil
}

// ParseComment finds a command in a PR comment: its first line must start
// with /deploy, /approve or /reject. ok is false for any other comment,
// which is not an error. repo is the PR's repository.
func ParseComment(body, repo string) (c Command, ok bool, err error) {
	line, _, _ := strings.Cut(strings.TrimSpace(body), "\n")
	f := strings.Fields(line)
	if len(f) == 0 {
		return Command{}, false, nil
	}
	switch strings.ToLower(f[0]) {
	case "/deploy":
		if len(f) > 1 && strings.EqualFold(f[1], string(CmdRollback)) {
			c, err = parseEnvCommand(CmdRollback, f[2:], repo)
		} else {
			c, err = parseEnvCommand(CmdDeploy, f[1:], repo)
		}
		if c.Repo != repo && err == nil {
			err = &Refusal{Code: CodeBadCommand, Reason: "a PR comment deploys its own repository " + repo}
		}
	case "/approve":
		if len(f) != 2 {
			return Command{}, true, badCommand(CmdApprove)
		}
		c = Command{Kind: CmdApprove, Repo: repo, RequestID: f[1]}
	case "/reject":
		if len(f) < 3 {
			return Command{}, true, badCommand(CmdReject)
		}
		c = Command{Kind: CmdReject, Repo: repo, RequestID: f[1], Reason: strings.Join(f[2:], " ")}
	default:
		return Command{}, false, nil
	}
	if err != nil {
		return Command{}, true, err
	}
	return c, true, nil
}
