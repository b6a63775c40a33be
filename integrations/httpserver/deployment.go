package httpserver

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/hex"
	"errors"
	"html/template"
	"net/http"
	"regexp"
	"sort"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// maxLogShown bounds how much of a deployment log the page shows (its end).
const maxLogShown = 256 << 10

//go:embed deployment.html.tmpl
var deploymentHTML string

var deploymentTmpl = template.Must(template.New("deployment").Funcs(template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"dur": func(d time.Duration) string {
		if d <= 0 {
			return "—"
		}
		return d.Round(time.Millisecond).String()
	},
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
	"hexhash": func(b [32]byte) string { return hex.EncodeToString(b[:]) },
}).Parse(deploymentHTML))

// DeploymentPage is GET /deployments/{id}: one request's story for people
// and auditors (the log_url of its GitHub deployment statuses). It shows
// no secret: the approval nonce and integration bookkeeping are left out,
// and the deployment log was redacted when it was written.
type DeploymentPage struct {
	// Request returns the request; an error wrapping bot.ErrNotFound is a 404.
	Request func(ctx context.Context, id string) (bot.Request, error)
	// Audit returns the request's audit entries, oldest first.
	Audit func(ctx context.Context, id string) ([]audit.Entry, error)
	// Log returns the deployment log, or nil when there is none.
	Log func(ctx context.Context, id string) ([]byte, error)
}

// validPageID is the shape of a request id in a URL.
var validPageID = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// deploymentView is what the template renders.
type deploymentView struct {
	R            bot.Request
	Approvals    []bot.Approval
	Servers      []serverSteps
	Audit        []audit.Entry
	Log          string
	LogTruncated bool
}

type serverSteps struct {
	Server string
	Steps  []bot.DeployStep
	Total  time.Duration
}

// ServeHTTP implements http.Handler.
func (p *DeploymentPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	log := Logger(ctx, nil)
	id := r.PathValue("id")
	if !validPageID.MatchString(id) {
		http.NotFound(w, r)
		return
	}
	req, err := p.Request(ctx, id)
	if errors.Is(err, bot.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		log.ErrorContext(ctx, "deployment page: reading request", "request", id, "err", err)
		http.Error(w, "could not read the request", http.StatusInternalServerError)
		return
	}
	v := deploymentView{R: req, Approvals: req.Approvals}
	if req.Result != nil {
		v.Servers = groupSteps(req.Result.Steps)
	}
	if p.Audit != nil {
		if v.Audit, err = p.Audit(ctx, id); err != nil {
			log.ErrorContext(ctx, "deployment page: reading audit entries", "request", id, "err", err)
			http.Error(w, "could not read the audit log", http.StatusInternalServerError)
			return
		}
	}
	if p.Log != nil {
		data, err := p.Log(ctx, id)
		if err != nil {
			log.ErrorContext(ctx, "deployment page: reading the deployment log", "request", id, "err", err)
			http.Error(w, "could not read the deployment log", http.StatusInternalServerError)
			return
		}
		if len(data) > maxLogShown {
			data, v.LogTruncated = data[len(data)-maxLogShown:], true
		}
		v.Log = string(data)
	}
	var b bytes.Buffer
	if err := deploymentTmpl.Execute(&b, v); err != nil {
		log.ErrorContext(ctx, "deployment page: rendering", "request", id, "err", err)
		http.Error(w, "could not render the page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	_, _ = w.Write(b.Bytes())
}

// groupSteps orders steps by server, keeping each server's step order.
func groupSteps(steps []bot.DeployStep) []serverSteps {
	idx := map[string]int{}
	var out []serverSteps
	for _, s := range steps {
		i, ok := idx[s.Server]
		if !ok {
			i = len(out)
			idx[s.Server] = i
			out = append(out, serverSteps{Server: s.Server})
		}
		out[i].Steps = append(out[i].Steps, s)
		out[i].Total += s.Duration
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Server < out[j].Server })
	return out
}
