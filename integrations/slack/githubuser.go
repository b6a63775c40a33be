package slack

import (
	"context"

	"github.com/tollgate-dev/tollgate/integrations/githuboauth"
)

// githubUser exchanges an OAuth code (with its PKCE verifier) for a user
// token and reads GET /user with it. The token is used for this one call
// and never stored or logged.
func (h *Handler) githubUser(ctx context.Context, code, verifier string) (githuboauth.User, error) {
	token, err := h.gh.ExchangeCode(ctx, code, verifier, h.public+PathOAuthCallback)
	if err != nil {
		return githuboauth.User{}, err
	}
	return h.gh.AuthenticatedUser(ctx, token)
}
