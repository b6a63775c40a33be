package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/demo"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// TestSlackSendersKeepTheirIdentityInABurstOnThreeReplicas starts where a
// Slack user starts: signed /deploy commands from every member of the
// cast at once (with GitHub deliveries between them), spread over three
// replicas on one PostgreSQL, whose identity lookups are answered by
// shared queries while a burst lasts. Every request the commands created
// names as its requester the GitHub account linked to the Slack user who
// sent it: a busy moment never hands one sender's identity to another.
func TestSlackSendersKeepTheirIdentityInABurstOnThreeReplicas(t *testing.T) {
	w := startLoadWorldOn(t, storetest.NewSchema(t, false), 3)
	reqs := w.planIntakeRound(300, 0)
	results := sendIntakeRound(w.urls(), reqs)
	checkIntakeRound(t, w.dbPath, reqs, results, map[string]bool{})
	if t.Failed() {
		t.Fatal(w.logTail())
	}
	ctx := context.Background()
	st, err := store.OpenReadOnly(ctx, w.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var pending int
		if err := st.DB().QueryRow(`SELECT count(*) FROM inbox WHERE state = ?`, store.InboxPending).Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries still pending after 2 minutes\n%s", pending, w.logTail())
		}
	}
	loginOf := map[string]string{} // Slack user id → linked GitHub login
	for _, p := range demo.Cast() {
		loginOf[p.SlackID] = p.Login
	}
	rows, err := st.DB().Query(`SELECT id, requester_login, requester_slack FROM requests WHERE trigger = 'slack'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	created := 0
	for rows.Next() {
		var id, login, chatUser string
		if err := rows.Scan(&id, &login, &chatUser); err != nil {
			t.Fatal(err)
		}
		created++
		user := chatUser[strings.LastIndex(chatUser, "/")+1:]
		if want, ok := loginOf[user]; !ok || login != want {
			t.Errorf("request %s was sent by Slack user %s (linked to %q) but names %q as its requester", id, chatUser, want, login)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if created < len(demo.Cast()) {
		t.Errorf("%d requests created from %d Slack commands; want at least one per sender", created, len(reqs)/2)
	}
}
