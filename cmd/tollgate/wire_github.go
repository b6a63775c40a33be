package main

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"

	gh "github.com/google/go-github/v60/github"

	ghint "github.com/tollgate-dev/tollgate/integrations/github"
)

// prComments reacts to and answers PR comment commands through the App's
// installation client (the dispatcher's CommentReactor and CommentReplier).
type prComments struct{ app *ghint.App }

// ReactEyes marks a comment command as seen with 👀.
func (c prComments) ReactEyes(ctx context.Context, repo string, commentID int64) error {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok {
		return fmt.Errorf("reacting on %s: want owner/name", repo)
	}
	cl, err := c.app.ForRepo(ctx, repo)
	if err != nil {
		return fmt.Errorf("reacting on comment %d of %s: %w", commentID, repo, err)
	}
	if _, _, err := cl.Reactions.CreateIssueCommentReaction(ctx, owner, name, commentID, "eyes"); err != nil {
		return fmt.Errorf("reacting on comment %d of %s: %w", commentID, repo, err)
	}
	return nil
}

// ReplyToComment answers a comment command on its pull request.
func (c prComments) ReplyToComment(ctx context.Context, repo string, number int, body string) error {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok {
		return fmt.Errorf("replying on %s: want owner/name", repo)
	}
	cl, err := c.app.ForRepo(ctx, repo)
	if err != nil {
		return fmt.Errorf("replying on %s#%d: %w", repo, number, err)
	}
	if _, _, err := cl.Issues.CreateComment(ctx, owner, name, number, &gh.IssueComment{Body: gh.String(body)}); err != nil {
		return fmt.Errorf("replying on %s#%d: %w", repo, number, err)
	}
	return nil
}

// AuditFacts implements the Reporter's AuditFacts: the latest audit entry
// about a request and the newest signed checkpoint covering it.
func (s *server) AuditFacts(ctx context.Context, requestID string) (ghint.AuditEntry, error) {
	var seq sql.NullInt64
	err := s.store.DB().QueryRowContext(ctx, `SELECT max(seq) FROM audit_entries WHERE subject = ?`, requestID).Scan(&seq)
	if err != nil {
		return ghint.AuditEntry{}, fmt.Errorf("latest audit entry of request %s: %w", requestID, err)
	}
	if !seq.Valid {
		return ghint.AuditEntry{}, fmt.Errorf("request %s has no audit entry", requestID)
	}
	e, err := s.store.Audit().Get(ctx, seq.Int64)
	if err != nil {
		return ghint.AuditEntry{}, err
	}
	out := ghint.AuditEntry{Seq: e.Seq, LeafHash: hex.EncodeToString(e.LeafHash[:])}
	cp, ok, err := s.store.Audit().LatestCheckpoint(ctx)
	if err != nil {
		return ghint.AuditEntry{}, err
	}
	if ok && cp.Size > e.Seq {
		out.CheckpointSize, out.RootPrefix = cp.Size, hex.EncodeToString(cp.Root[:])[:12]
	}
	return out, nil
}

// environmentInfo tells the Reporter about an environment, from the
// configuration in force.
func (s *server) environmentInfo(repo, env string) ghint.EnvironmentInfo {
	e, ok := s.live.Current().Environment(repo, env)
	if !ok {
		return ghint.EnvironmentInfo{}
	}
	info := ghint.EnvironmentInfo{URL: e.EnvironmentURL, Production: e.Production, Transient: e.Transient}
	if len(e.Labels) > 0 {
		info.Label = e.Labels[0]
	}
	return info
}
