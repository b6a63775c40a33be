package slack

import (
	"fmt"
	"net/url"
	"strings"
)

// DefaultResponseURLBase is where Slack's response_urls live. A
// response_url arrives inside a signed request, but whoever holds the
// signing secret (a leak, a misrouted proxy) could otherwise make
// Tollgate post to any address it can reach, internal ones included.
const DefaultResponseURLBase = "https://hooks.slack.com/"

// parseResponseURLBase checks the configured base: an http(s) URL with a
// host, ending in "/" so that a prefix match pins the host.
func parseResponseURLBase(base string) (*url.URL, error) {
	if base == "" {
		base = DefaultResponseURLBase
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("slack: response_url base %q is not an http(s) URL like %s", base, DefaultResponseURLBase)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

// responseURLAllowed reports whether Tollgate may post to raw: it must be
// under the configured base, same scheme and host (no user info, no other
// port), its path below the base's.
func (h *Handler) responseURLAllowed(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Opaque != "" {
		return false
	}
	return strings.EqualFold(u.Scheme, h.respBase.Scheme) && strings.EqualFold(u.Host, h.respBase.Host) &&
		strings.HasPrefix(u.EscapedPath(), h.respBase.EscapedPath())
}

// hostOf names the host of a URL for a log line (never its path, which
// carries Slack's token for the response).
func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return "(unparsable)"
}
