package evidence_test

import "github.com/tollgate-dev/tollgate/bot"

func botEvent(action string) bot.AuditEvent {
	return bot.AuditEvent{Actor: "tollgate", Action: action, Subject: "config", Data: map[string]any{"hash": "abc"}}
}
