package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// BotScopes are the bot token scopes the Slack integration uses: commands
// for /deploy; chat:write for chat.postMessage (to channels, and to people
// by passing their user ID as the channel, so no im:write), chat.update and
// chat.postEphemeral; views.open and auth.test need none. The setup
// manifest requests exactly these and doctor checks the token has them, so
// the two cannot disagree.
var BotScopes = []string{"commands", "chat:write"}

// scopesHeader is where Slack's Web API answers list a token's scopes.
const scopesHeader = "X-OAuth-Scopes"

// TokenInfo is what auth.test says about a bot token.
type TokenInfo struct {
	User, Team string
	Scopes     []string
	ScopesSent bool // the answer carried the scopes header
}

// CheckToken calls auth.test with token at apiURL (a Web API base with a
// trailing slash). It reads the raw answer, not slack-go's, because the
// token's scopes come only in a response header.
func CheckToken(ctx context.Context, client *http.Client, apiURL, token string) (TokenInfo, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, apiURL+"auth.test", http.NoBody)
	if err != nil {
		return TokenInfo{}, fmt.Errorf("auth.test: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return TokenInfo{}, fmt.Errorf("auth.test: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return TokenInfo{}, fmt.Errorf("auth.test: HTTP %s", resp.Status)
	}
	var body struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
		User  string `json:"user"`
		Team  string `json:"team"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return TokenInfo{}, fmt.Errorf("auth.test: reading the answer: %w", err)
	}
	if !body.OK {
		if body.Error == "" {
			body.Error = "refused without an error code"
		}
		return TokenInfo{}, fmt.Errorf("auth.test: %s", body.Error)
	}
	values := resp.Header.Values(scopesHeader)
	return TokenInfo{User: body.User, Team: body.Team, Scopes: parseScopes(values), ScopesSent: len(values) > 0}, nil
}

// parseScopes reads the comma-separated scopes of the header's values.
func parseScopes(values []string) []string {
	var scopes []string
	for _, v := range values {
		for sc := range strings.SplitSeq(v, ",") {
			if sc = strings.TrimSpace(sc); sc != "" && !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	}
	return scopes
}
