package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	slackint "github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
)

// chaosRequest is one signed request of the chaos: a GitHub delivery or
// a Slack command or click, sent until a replica acknowledges it.
type chaosRequest struct {
	kind   string // "noise" (a GitHub event that deploys nothing), "qa" (a /deploy qa refused by the lock), "merge", "approve"
	source string // inbox source
	key    string // the delivery id it is stored under
	path   string
	header http.Header
	body   []byte
	// prefer is the replica it goes to first; a resend prefers another
	// one than its original.
	prefer int
	resend bool
	sha    string // merge: the merged commit
}

// planChaosLoad builds n signed requests, half GitHub deliveries about a
// PR that deploys nothing, half `/deploy qa` commands refused by carol's
// lock, each with its own id, and resends every tenth with the same id to
// another replica.
func (w *chaosWorld) planChaosLoad(n int, rng *rand.Rand) []chaosRequest {
	labeled, _ := w.gh.Payloads().PullRequestLabeled(e2eRepo, 50, "needs-review", "bob")
	sync, _ := w.gh.Payloads().PullRequestSynchronize(e2eRepo, 50, sha('d'), sha('e'), "bob")
	lb, _ := labeled.JSON()
	sb, _ := sync.JSON()
	signer := slacktest.Signer{Secret: slackE2ESecret}
	var out []chaosRequest
	for i := range n {
		var r chaosRequest
		if i%2 == 0 {
			event, body := "pull_request", lb
			if i%4 == 0 {
				body = sb
			}
			r = githubRequest("noise", w.gh, event, githubtest.NewDeliveryID(), body)
		} else {
			body := slacktest.SlashCommandBody(slacktest.SlashCommandParams{TeamID: w.sl.TeamID(), UserID: slackAlice.slackID,
				UserName: slackAlice.login, ChannelID: slackE2EChannel, Text: "qa", ResponseURL: w.sl.NewResponseURL()})
			sum := sha256.Sum256(body)
			r = chaosRequest{kind: "qa", source: "slack", key: "sha256:" + hex.EncodeToString(sum[:]), path: "/slack/commands",
				body: body, header: signer.Headers(body)}
			r.header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		r.prefer = rng.IntN(3)
		out = append(out, r)
		if i%10 == 9 {
			again := r
			again.resend, again.prefer, again.header = true, (r.prefer+1)%3, r.header.Clone()
			if r.source == "slack" {
				again.header.Set(slacktest.HeaderRetryNum, "1")
				again.header.Set(slacktest.HeaderRetryReason, "http_timeout")
			}
			out = append(out, again)
		}
	}
	return out
}

// githubRequest is a signed GitHub delivery.
func githubRequest(kind string, gh *githubtest.Server, event, id string, body []byte) chaosRequest {
	r := chaosRequest{kind: kind, source: "github", key: id, path: "/webhooks/github", body: body, header: http.Header{}}
	r.header.Set("Content-Type", "application/json")
	r.header.Set("User-Agent", "GitHub-Hookshot/chaos")
	r.header.Set("X-GitHub-Event", event)
	r.header.Set("X-GitHub-Delivery", id)
	r.header.Set("X-Hub-Signature-256", githubtest.SignatureSHA256(e2eSecret, body))
	return r
}

// mergeRequest is the merge webhook of m (resent to another replica when resend).
func (w *chaosWorld) mergeRequest(t *testing.T, m crashMerge, resend bool) chaosRequest {
	p, err := w.gh.Payloads().PullRequestMerged(e2eRepo, m.number, m.sha, "alice", "develop")
	if err != nil {
		t.Error(err)
	}
	body, _ := p.JSON()
	r := githubRequest("merge", w.gh, p.Event, m.delivery, body)
	r.sha, r.resend = m.sha, resend
	return r
}

// approveRequest is carol's click on Approve of the message at ts.
func (w *chaosWorld) approveRequest(t *testing.T, ts string, resend bool) chaosRequest {
	m, _ := w.sl.Message(slackE2EChannel, ts)
	blockID, value, _ := slacktest.Button(m.Blocks, slackint.ActionApprove)
	body, err := slacktest.BlockActionBody(slacktest.BlockActionParams{TeamID: w.sl.TeamID(), UserID: slackCarol.slackID,
		UserName: slackCarol.login, ChannelID: slackE2EChannel, MessageTS: ts, Message: w.sl.MessagePayload(slackE2EChannel, ts),
		ActionID: slackint.ActionApprove, BlockID: blockID, Value: value, ButtonText: "Approve",
		ResponseURL: w.sl.NewResponseURLFor(slacktest.ResponseTarget{Channel: slackE2EChannel, User: slackCarol.slackID, MessageTS: ts})})
	if err != nil {
		t.Error(err)
	}
	sum := sha256.Sum256(body)
	r := chaosRequest{kind: "approve", source: "slack", key: "sha256:" + hex.EncodeToString(sum[:]), path: "/slack/interactions",
		body: body, header: slacktest.Signer{Secret: slackE2ESecret}.Headers(body), resend: resend}
	r.header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// chaosClient sends each request on its own connection, as GitHub and
// Slack do.
var chaosClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// deliverChaos sends r until a replica acknowledges it (2xx), as a load
// balancer retrying on a dead backend and GitHub's redelivery would:
// first to its preferred replica, then to random ones. A merge or a click
// marked resend is then sent again, with the same id, to another replica.
func (h *haReplicas) deliverChaos(r chaosRequest) error {
	first, err := h.sendUntilAcknowledged(r, r.prefer)
	if err != nil || !r.resend || r.kind == "noise" || r.kind == "qa" {
		return err
	}
	_, err = h.sendUntilAcknowledged(r, (first+1)%len(h.children))
	return err
}

// sendUntilAcknowledged sends r to replica prefer, then to others, until
// one answers 2xx; it returns which.
func (h *haReplicas) sendUntilAcknowledged(r chaosRequest, prefer int) (int, error) {
	deadline := time.Now().Add(2 * time.Minute)
	i := prefer % len(h.children)
	var last string
	for {
		c := h.children[i]
		req, err := http.NewRequest(http.MethodPost, "http://"+c.addr+r.path, bytes.NewReader(r.body))
		if err != nil {
			return i, err
		}
		req.Header = r.header.Clone()
		resp, err := chaosClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode/100 != 2:
				last = fmt.Sprintf("status %d", resp.StatusCode)
			case r.kind == "qa" && !strings.Contains(string(body), "Working on"):
				// Answered, but not taken: the person is told to try again.
				last = fmt.Sprintf("answered %q", body)
				h.noted(last)
			default:
				return i, nil
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return i, fmt.Errorf("%s %s %s never acknowledged: %s", r.kind, r.source, r.key, last)
		}
		time.Sleep(50 * time.Millisecond)
		h.mu.Lock()
		i = h.rng.IntN(len(h.children))
		h.mu.Unlock()
	}
}

// githubtestPR is PR number by bob with head at head.
func githubtestPR(number int, head string) githubtest.PullRequest {
	return githubtest.PullRequest{Number: number, Title: "Chaos noise " + strings.Repeat("x", 3), Author: "bob", HeadSHA: head, Base: "main"}
}
