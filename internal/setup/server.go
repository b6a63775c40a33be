package setup

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"sync"

	"github.com/google/go-github/v60/github"
)

// CallbackPath receives GitHub's redirect with the manifest code.
const CallbackPath = "/setup/github/callback"

// setupFlow is the local web page of `tollgate setup`: it offers the
// manifest form and receives the redirect that carries the one-time code.
type setupFlow struct {
	target       setupTarget
	formAction   string // GitHub's "create app from manifest" URL with state
	manifestJSON string
	state        string
	hosts        []string // the Host values this page answers: its own address only
	convert      func(ctx context.Context, code string) (appCredentials, error)
	log          *slog.Logger

	mu      sync.Mutex
	claimed bool              // a valid callback was accepted; later ones are refused
	done    chan setupOutcome // receives exactly one outcome
	result  *setupOutcome     // for the page shown on a reload
}

// setupOutcome ends the flow.
type setupOutcome struct {
	App     appCredentials
	Written setupWritten
	Err     error
}

// newState returns a random value that ties GitHub's redirect to this run.
func newState() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random state: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// githubConverter exchanges a manifest code through go-github at api.
func githubConverter(g githubURLs, hc *http.Client) (func(ctx context.Context, code string) (appCredentials, error), error) {
	client := github.NewClient(hc)
	if !g.isDotCom() {
		var err error
		if client, err = client.WithEnterpriseURLs(g.API, g.API); err != nil {
			return nil, fmt.Errorf("GitHub API URL %s: %w", g.API, err)
		}
	}
	return func(ctx context.Context, code string) (appCredentials, error) {
		cfg, _, err := client.Apps.CompleteAppManifest(ctx, code)
		if err != nil {
			// go-github's error names the URL, never the code's answer.
			return appCredentials{}, fmt.Errorf("exchange the manifest code at %sapp-manifests/…/conversions: %w", g.API, err)
		}
		return appCredentials{ID: cfg.GetID(), Slug: cfg.GetSlug(), Name: cfg.GetName(), HTMLURL: cfg.GetHTMLURL(),
			ClientID: cfg.GetClientID(), ClientSecret: cfg.GetClientSecret(), WebhookSecret: cfg.GetWebhookSecret(),
			PEM: cfg.GetPEM()}, nil
	}, nil
}

func (f *setupFlow) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", f.servePage)
	mux.HandleFunc("GET "+CallbackPath, f.serveCallback)
	return f.guard(mux)
}

// setupHeaders keep the page from being framed or cached: it carries the state.
func setupHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	// No other site may embed, open or read these pages (guard.go).
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action *")
}

func (f *setupFlow) servePage(w http.ResponseWriter, r *http.Request) {
	setupHeaders(w)
	f.mu.Lock()
	res := f.result
	f.mu.Unlock()
	if res != nil {
		renderSetupDone(w, *res)
		return
	}
	owner := "your GitHub account"
	if f.target.Org != "" {
		owner = "the organisation " + f.target.Org
	}
	_ = setupPage.Execute(w, map[string]string{
		"Action": f.formAction, "Manifest": f.manifestJSON, "Owner": owner,
		"GitHub": f.target.GitHub.Web, "PublicURL": f.target.PublicURL,
	})
}

func (f *setupFlow) serveCallback(w http.ResponseWriter, r *http.Request) {
	setupHeaders(w)
	q := r.URL.Query()
	code, state := q.Get("code"), q.Get("state")
	if subtle.ConstantTimeCompare([]byte(state), []byte(f.state)) != 1 || code == "" {
		f.log.Warn("setup callback refused: state does not match this setup run", "remote", r.RemoteAddr)
		w.WriteHeader(http.StatusBadRequest)
		_ = setupMessage.Execute(w, "This link does not belong to this setup run (state mismatch). Start again from the setup page.")
		return
	}
	f.mu.Lock()
	if f.claimed {
		res := f.result
		f.mu.Unlock()
		if res != nil {
			renderSetupDone(w, *res)
			return
		}
		w.WriteHeader(http.StatusConflict)
		_ = setupMessage.Execute(w, "Setup is already finishing in another tab.")
		return
	}
	f.claimed = true
	f.mu.Unlock()

	out := setupOutcome{}
	out.App, out.Err = f.convert(r.Context(), code)
	if out.Err == nil {
		out.Written, out.Err = writeSetup(f.target, out.App)
	}
	f.mu.Lock()
	f.result = &out
	f.mu.Unlock()
	f.done <- out
	if out.Err != nil {
		w.WriteHeader(http.StatusBadGateway)
	}
	renderSetupDone(w, out)
}

func renderSetupDone(w http.ResponseWriter, out setupOutcome) {
	if out.Err != nil {
		_ = setupMessage.Execute(w, "Setup failed: "+out.Err.Error()+" (see the terminal).")
		return
	}
	_ = setupDone.Execute(w, map[string]any{"App": out.App, "Written": out.Written,
		"Install": out.App.HTMLURL + "/installations/new"})
}

// The pages carry no secret: the manifest lists permissions and URLs only.
var (
	setupStyle = `<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
button{font-size:1.1rem;padding:.6rem 1.2rem}code{background:#f3f3f3;padding:0 .2rem}</style>`
	setupPage = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tollgate setup</title>` + setupStyle + `</head><body>
<h1>Create the Tollgate GitHub App</h1>
<p>This registers a GitHub App for {{.Owner}} on <code>{{.GitHub}}</code> from Tollgate's manifest
(<code>app.yml</code>): the permissions and events Tollgate needs, webhooks to
<code>{{.PublicURL}}/webhooks/github</code>. GitHub shows you everything before you confirm.</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="manifest" value="{{.Manifest}}">
<button type="submit">Create GitHub App</button>
</form>
<p>Afterwards GitHub sends you back here and Tollgate writes the app's id, private key and
secrets next to your config. Nothing secret is shown on this page or in the terminal.</p>
</body></html>`))
	setupDone = template.Must(template.New("done").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tollgate setup done</title>` + setupStyle + `</head><body>
<h1>GitHub App “{{.App.Name}}” created</h1>
<p>App id {{.App.ID}}. Tollgate wrote the private key to <code>{{.Written.KeyFile}}</code>, the secrets to
<code>{{.Written.EnvFile}}</code> and updated <code>{{.Written.Config}}</code>.</p>
<p>Next: <a href="{{.Install}}">install the app</a> on the repositories Tollgate deploys, then follow the
steps printed in the terminal. You can close this tab.</p>
</body></html>`))
	setupMessage = template.Must(template.New("msg").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tollgate setup</title>` + setupStyle + `</head><body>
<p>{{.}}</p></body></html>`))
)
