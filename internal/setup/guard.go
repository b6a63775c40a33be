package setup

import (
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// pageHosts are the Host header values the setup page answers: the exact
// address it listens on and, on a loopback address, localhost with the
// same port. Any other name reaching this socket is a DNS rebinding (a
// page whose own domain now resolves to 127.0.0.1) or a proxy nobody set up.
func pageHosts(addr net.Addr) []string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return []string{addr.String()}
	}
	hosts := []string{tcp.String()}
	if tcp.IP.IsLoopback() {
		hosts = append(hosts, net.JoinHostPort("localhost", strconv.Itoa(tcp.Port)))
	}
	return hosts
}

// guard refuses, before any handler runs:
//   - a Host other than the page's own (DNS rebinding would otherwise let
//     another site read the state from GET / and complete setup with a
//     manifest code of its own App);
//   - on the callback, which writes the App's key and secrets, a request
//     a script sent rather than the browser following GitHub's redirect:
//     an Origin other than the page's own, or Sec-Fetch-Mode other than
//     navigate (browsers set it; its absence is a non-browser client,
//     which the state stops);
//   - the page itself fetched by another site's script (Sec-Fetch-Site
//     cross-site without a navigation).
//
// The pages also carry Cross-Origin-Resource-Policy and -Opener-Policy
// same-origin (setupHeaders), so the state is never readable cross-origin.
func (f *setupFlow) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(f.hosts, strings.ToLower(r.Host)) {
			f.refuse(w, r, http.StatusMisdirectedRequest, "host is not this setup page's address",
				"This page answers only at "+f.hosts[0]+". Open the address setup printed.")
			return
		}
		mode, site := r.Header.Get("Sec-Fetch-Mode"), r.Header.Get("Sec-Fetch-Site")
		if r.URL.Path == CallbackPath {
			if origin := r.Header.Get("Origin"); origin != "" && !f.ownOrigin(origin) {
				f.refuse(w, r, http.StatusForbidden, "callback from another origin",
					"This request did not come from GitHub's redirect. Start again from the setup page.")
				return
			}
			if mode != "" && mode != "navigate" {
				f.refuse(w, r, http.StatusForbidden, "callback not a navigation",
					"This request did not come from GitHub's redirect. Start again from the setup page.")
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if site == "cross-site" && mode != "" && mode != "navigate" {
			f.refuse(w, r, http.StatusForbidden, "page fetched by another site",
				"Open the address setup printed in your browser.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ownOrigin reports whether origin is http://<one of the page's hosts>.
func (f *setupFlow) ownOrigin(origin string) bool {
	host, ok := strings.CutPrefix(strings.ToLower(origin), "http://")
	return ok && slices.Contains(f.hosts, host)
}

// refuse answers a guarded request with status and a page that carries
// nothing of this run, and logs why.
func (f *setupFlow) refuse(w http.ResponseWriter, r *http.Request, status int, why, msg string) {
	f.log.Warn("setup request refused: "+why, "host", r.Host, "origin", r.Header.Get("Origin"),
		"path", r.URL.Path, "remote", r.RemoteAddr)
	setupHeaders(w)
	w.WriteHeader(status)
	_ = setupMessage.Execute(w, msg)
}
