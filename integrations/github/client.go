// Package github is Tollgate's GitHub App: webhooks in, GitHub API out.
// This half is the outbound side: app and installation authentication
// (ghinstallation on go-github v60), a transport that waits out rate limits
// and retries what is safe to retry, the bot's Directory and Changes over
// the REST API, and the Reporter that mirrors requests as GitHub
// Deployments, PR comments and protection-rule answers.
package github

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v60/github"
)

// DefaultAPIURL is the REST API of github.com.
const DefaultAPIURL = "https://api.github.com"

// ErrNotInstalled reports that the GitHub App is not installed on the
// repository or organisation asked about.
var ErrNotInstalled = errors.New("the GitHub App is not installed there")

// AppConfig configures an App.
type AppConfig struct {
	// APIURL is github.api_url: "" for github.com, or the REST base of a
	// GitHub Enterprise Server ("https://ghe.example.com/api/v3"), used as
	// given (tests point it at integrations/githubtest).
	APIURL     string
	AppID      int64
	PrivateKey []byte // the app's PEM private key (PKCS#1 or PKCS#8)
	// HTTPClient supplies the base transport (nil: a default one with
	// connection and header timeouts). Its Timeout is not used: every call
	// is bounded by its context instead, so rate-limit waits can happen.
	HTTPClient *http.Client
	Logger     *slog.Logger
	Clock      func() time.Time
	Retry      RetryPolicy // zero value: DefaultRetryPolicy
	// MaxTarballBytes bounds a downloaded source tarball (0: 1 GiB).
	MaxTarballBytes int64
	// TarballTimeout bounds a tarball download (0: 10 minutes).
	TarballTimeout time.Duration
}

// App is the GitHub App: an app-authenticated client (JWT) to find
// installations, and one client per installation, created on first use
// and kept. It is safe for concurrent use.
type App struct {
	apiURL      *url.URL // with a trailing slash, as go-github wants
	appID       int64
	key         *rsa.PrivateKey
	base        http.RoundTripper
	retry       RetryPolicy
	log         *slog.Logger
	now         func() time.Time
	maxTarball  int64
	tarballWait time.Duration
	appClient   *gh.Client

	mu        sync.Mutex
	byRepo    map[string]int64 // lower-case "owner/name" → installation id
	byAccount map[string]int64 // lower-case org or user → installation id
	clients   map[int64]*gh.Client
}

// NewApp returns an App, or an error naming what is wrong in cfg. It
// makes no network call.
func NewApp(ctx context.Context, cfg AppConfig) (*App, error) {
	_ = ctx // reserved: construction does no I/O today
	if cfg.AppID <= 0 {
		return nil, errors.New("github app: app id is required")
	}
	key, err := parsePrivateKey(cfg.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("github app %d: %w", cfg.AppID, err)
	}
	api, err := parseAPIURL(cfg.APIURL)
	if err != nil {
		return nil, fmt.Errorf("github app %d: %w", cfg.AppID, err)
	}
	a := &App{
		apiURL: api, appID: cfg.AppID, key: key, retry: cfg.Retry.withDefaults(),
		log: cfg.Logger, now: cfg.Clock, maxTarball: cfg.MaxTarballBytes, tarballWait: cfg.TarballTimeout,
		byRepo: map[string]int64{}, byAccount: map[string]int64{}, clients: map[int64]*gh.Client{},
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.maxTarball <= 0 {
		a.maxTarball = 1 << 30
	}
	if a.tarballWait <= 0 {
		a.tarballWait = 10 * time.Minute
	}
	a.base = defaultBaseTransport()
	if cfg.HTTPClient != nil && cfg.HTTPClient.Transport != nil {
		a.base = cfg.HTTPClient.Transport
	}
	atr := ghinstallation.NewAppsTransportFromPrivateKey(a.newRetryTransport(), a.appID, a.key)
	atr.BaseURL = a.apiBase()
	a.appClient = a.newClient(atr)
	return a, nil
}

// defaultBaseTransport is http.DefaultTransport with a bound on how long
// GitHub may take to start answering, so a hung connection becomes a
// retryable network error instead of a stuck worker.
func defaultBaseTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 60 * time.Second
	// Keep a connection for every blob fetched in parallel (TreeSource)
	// instead of Go's default of two idle ones per host.
	t.MaxIdleConnsPerHost = 2 * blobParallel
	return t
}

func parsePrivateKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("private key: no PEM block found")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("private key: neither PKCS#1 nor PKCS#8: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key: want RSA, got %T", k)
	}
	return rk, nil
}

func parseAPIURL(s string) (*url.URL, error) {
	if s == "" {
		s = DefaultAPIURL
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("api url %q: want http(s)://host[/path]", s)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

// apiBase is the API URL without the trailing slash, as ghinstallation
// joins paths onto it.
func (a *App) apiBase() string { return strings.TrimSuffix(a.apiURL.String(), "/") }

// newClient returns a go-github client over rt with the App's base URL.
func (a *App) newClient(rt http.RoundTripper) *gh.Client {
	c := gh.NewClient(&http.Client{Transport: rt})
	base := *a.apiURL
	c.BaseURL = &base
	c.UploadURL = &base // Tollgate uploads nothing; keep it off github.com all the same
	return c
}

// ForRepo returns the client of the installation that covers repo
// ("owner/name"), looking the installation up on first use.
func (a *App) ForRepo(ctx context.Context, repo string) (*gh.Client, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	key := strings.ToLower(repo)
	a.mu.Lock()
	id, ok := a.byRepo[key]
	a.mu.Unlock()
	if !ok {
		inst, resp, err := a.appClient.Apps.FindRepositoryInstallation(ctx, owner, name)
		if err != nil {
			if resp != nil && resp.StatusCode == http.StatusNotFound {
				return nil, fmt.Errorf("finding the installation for %s: %w", repo, ErrNotInstalled)
			}
			return nil, fmt.Errorf("finding the installation for %s: %w", repo, err)
		}
		id = inst.GetID()
		a.mu.Lock()
		a.byRepo[key] = id
		a.mu.Unlock()
	}
	return a.installationClient(id), nil
}

// ForOrg returns the client of the installation on org (team lookups).
func (a *App) ForOrg(ctx context.Context, org string) (*gh.Client, error) {
	if org == "" || strings.Contains(org, "/") {
		return nil, fmt.Errorf("organisation %q: want a login", org)
	}
	key := strings.ToLower(org)
	a.mu.Lock()
	id, ok := a.byAccount[key]
	a.mu.Unlock()
	if !ok {
		inst, resp, err := a.appClient.Apps.FindOrganizationInstallation(ctx, org)
		if err != nil {
			if resp != nil && resp.StatusCode == http.StatusNotFound {
				return nil, fmt.Errorf("finding the installation on %s: %w", org, ErrNotInstalled)
			}
			return nil, fmt.Errorf("finding the installation on %s: %w", org, err)
		}
		id = inst.GetID()
		a.mu.Lock()
		a.byAccount[key] = id
		a.mu.Unlock()
	}
	return a.installationClient(id), nil
}

// Installation returns the client of installation id, e.g. the one named
// in a webhook payload, without a lookup.
func (a *App) Installation(id int64) *gh.Client { return a.installationClient(id) }

// ForgetInstallation drops what the App remembers about installation id
// (after an installation deleted or suspended webhook).
func (a *App) ForgetInstallation(id int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.clients, id)
	for k, v := range a.byRepo {
		if v == id {
			delete(a.byRepo, k)
		}
	}
	for k, v := range a.byAccount {
		if v == id {
			delete(a.byAccount, k)
		}
	}
}

// installationClient returns the (cached) client of installation id. Each
// installation has its own retry transport, because GitHub counts rate
// limits per installation.
func (a *App) installationClient(id int64) *gh.Client {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.clients[id]; ok {
		return c
	}
	atr := ghinstallation.NewAppsTransportFromPrivateKey(a.newRetryTransport(), a.appID, a.key)
	atr.BaseURL = a.apiBase()
	itr := ghinstallation.NewFromAppsTransport(atr, id)
	itr.BaseURL = a.apiBase()
	c := a.newClient(itr)
	a.clients[id] = c
	return c
}

func (a *App) newRetryTransport() *retryTransport {
	return &retryTransport{next: a.base, policy: a.retry, now: a.now, log: a.log}
}

// splitRepo splits "owner/name".
func splitRepo(repo string) (owner, name string, err error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("repository %q: want owner/name", repo)
	}
	return owner, name, nil
}

// statusOf returns the HTTP status of a go-github response, or 0.
func statusOf(resp *gh.Response) int {
	if resp == nil || resp.Response == nil {
		return 0
	}
	return resp.StatusCode
}
