package bot

import "fmt"

// untrustedRunEvents are the events that start a workflow run in the base
// repository's context, with its secrets and the base branch's SHA, while
// the run may check out and execute code someone outside the repository
// wrote (GitHub's guidance on "pwn requests": pull_request_target and
// workflow_run; issue_comment runs on the default branch for any
// commenter's pull request). The SHA such a run reports passes the branch,
// review and check rules without being what runs, so Tollgate refuses it.
var untrustedRunEvents = map[string]string{
	"pull_request_target": "reports the base branch's SHA but may run the pull request's code, possibly a fork's",
	"workflow_run":        "reports the default branch's SHA but may run code of the workflow before it, possibly a fork's",
	"issue_comment":       "reports the default branch's SHA but may run the code of the pull request commented on",
}

// checkRunEvent records what started a protection-rule run and fails one
// whose event can run untrusted code under a trusted SHA, or an unknown one.
func checkRunEvent(d *Decision, run *ProtectionRuleRun) {
	event := ""
	if run != nil {
		event = run.Event
	}
	lookedUp := "the event that started the workflow run"
	switch why, untrusted := untrustedRunEvents[event]; {
	case event == "":
		d.fail(CheckRunEvent, lookedUp, CodeUntrustedRun, "GitHub did not say what started the workflow run")
	case untrusted:
		d.fail(CheckRunEvent, lookedUp, CodeUntrustedRun, fmt.Sprintf(
			"the workflow run was started by %s, which %s; deploy from a push or workflow_dispatch run", event, why))
	default:
		d.pass(CheckRunEvent, lookedUp, "started by "+event)
	}
}
