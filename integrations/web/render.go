package web

import (
	"bytes"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

//go:embed templates/*.html.tmpl
var templateFS embed.FS

// pageNames are the templates that render a whole page inside the layout.
var pageNames = []string{"deployment", "audit", "environments", "message", "logout",
	"mfa_register", "mfa_approve", "mfa_review", "mfa_emergency"}

var funcs = template.FuncMap{
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
		if d < time.Second {
			return d.Round(time.Millisecond).String()
		}
		return d.Round(10 * time.Millisecond).String()
	},
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
	"hexhash": func(h tlog.Hash) string { return hex.EncodeToString(h[:]) },
	"words":   func(s any) string { return strings.ReplaceAll(fmt.Sprint(s), "_", " ") },
	"plural": func(n any, one, many string) string {
		if fmt.Sprint(n) == "1" {
			return "1 " + one
		}
		return fmt.Sprint(n) + " " + many
	},
	"reqpath":     func(id string) string { return PathDeployments + id },
	"isRequestID": func(s string) bool { return validRequestID.MatchString(s) && strings.HasPrefix(s, "r-") },
}

// pages holds one template set per page: the layout plus that page's
// "content".
var pages = func() map[string]*template.Template {
	base := template.Must(template.New("layout").Funcs(funcs).ParseFS(templateFS, "templates/layout.html.tmpl"))
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t := template.Must(base.Clone())
		files := []string{"templates/" + name + ".html.tmpl"}
		if strings.HasPrefix(name, "mfa_") {
			files = append(files, "templates/mfa_parts.html.tmpl")
		}
		out[name] = template.Must(t.ParseFS(templateFS, files...))
	}
	return out
}()

// pageData is what every page template receives.
type pageData struct {
	Title   string
	Viewer  Viewer
	Nav     string // which nav item is current
	Message string
	Link    string
	// LinkText labels Link on message pages.
	LinkText     string
	Deployment   *deploymentView
	Audit        *auditView
	Environments *environmentsView
	MFA          *mfaView
}

// render executes page into a buffer first, so a template failure is a
// clean 500 instead of half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, d pageData) {
	if d.Viewer.Login == "" {
		d.Viewer = viewerFrom(r.Context())
	}
	var b bytes.Buffer
	t, ok := pages[page]
	if !ok {
		h.log.ErrorContext(r.Context(), "web: unknown page template", "page", page)
		http.Error(w, "could not render the page", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&b, "layout", d); err != nil {
		h.log.ErrorContext(r.Context(), "web: rendering", "page", page, "err", err)
		http.Error(w, "could not render the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// message renders a short page: a title, a sentence, and a way on.
func (h *Handler) message(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	d := pageData{Title: title, Message: msg}
	switch status {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusBadGateway, http.StatusServiceUnavailable:
		if viewerFrom(r.Context()).Login == "" {
			d.Link, d.LinkText = PathLogin, "Sign in"
		}
	case http.StatusNotFound:
		d.Link, d.LinkText = PathEnvironments, "Environments"
	}
	h.render(w, r, status, "message", d)
}

// internalError logs err and answers a page that names what failed
// without the error's text.
func (h *Handler) internalError(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.log.ErrorContext(r.Context(), "web: "+what, "path", r.URL.Path, "err", err)
	h.message(w, r, http.StatusInternalServerError, "Something went wrong", fmt.Sprintf("Tollgate could not %s. The error is in the server log.", what))
}
