// Package cdptest drives a real headless Chromium over the Chrome DevTools
// Protocol, for the browser tests of the web pages (integrations/web) and
// of the whole server (cmd/tollgate): navigate, evaluate, wait, screenshot,
// and any other DevTools command (the WebAuthn domain's virtual
// authenticators among them).
package cdptest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	// gorilla/websocket is already in go.sum (slack-go's dependency); it
	// carries the Chrome DevTools Protocol. Test-only: no new module.
	"github.com/gorilla/websocket"
)

// Browser is a headless Chromium driven over the Chrome DevTools
// Protocol: one browser websocket, one page target attached in flat mode
// (every command names the page's session id).
type Browser struct {
	t       *testing.T
	cmd     *exec.Cmd
	stderr  *lockedBuffer
	conn    *websocket.Conn
	session string

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan cdpReply
	readErr error
	done    chan struct{}
}

type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Start launches path with the flags this machine needs and a
// fresh profile, waits for its DevTools URL, and opens one page.
func Start(t *testing.T, path string) *Browser {
	t.Helper()
	profile := t.TempDir()
	cmd := exec.Command(path, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--hide-scrollbars", "--mute-audio",
		"--user-data-dir="+profile, "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"--window-size=1100,1400", "about:blank")
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	c := &Browser{t: t, cmd: cmd, stderr: &lockedBuffer{}, pending: map[int64]chan cdpReply{}, done: make(chan struct{})}
	t.Cleanup(c.close)
	wsURL := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(c.stderr, line)
			if _, u, ok := strings.Cut(line, "DevTools listening on "); ok {
				select {
				case wsURL <- strings.TrimSpace(u):
				default:
				}
			}
		}
		_, _ = io.Copy(c.stderr, pipe)
	}()
	var u string
	select {
	case u = <-wsURL:
	case <-time.After(60 * time.Second):
		t.Fatalf("chromium printed no DevTools URL within 60 s; its stderr:\n%s", c.stderr.String())
	}
	c.conn, _, err = websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatalf("connecting to DevTools at %s: %v", u, err)
	}
	go c.readLoop()
	var target struct {
		TargetID string `json:"targetId"`
	}
	c.Call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	c.Call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached)
	c.session = attached.SessionID
	c.Page("Page.enable", nil, nil)
	c.Page("Runtime.enable", nil, nil)
	return c
}

// readLoop hands replies to their callers; events are not needed because
// the test polls the page's state instead.
func (c *Browser) readLoop() {
	defer close(c.done)
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			for id, ch := range c.pending {
				close(ch)
				delete(c.pending, id)
			}
			c.mu.Unlock()
			return
		}
		var msg struct {
			ID int64 `json:"id"`
			cdpReply
		}
		if json.Unmarshal(data, &msg) != nil || msg.ID == 0 {
			continue
		}
		c.mu.Lock()
		ch := c.pending[msg.ID]
		delete(c.pending, msg.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- msg.cdpReply
		}
	}
}

// Call sends one command (to the browser when session is "") and decodes
// its result into out.
func (c *Browser) Call(session, method string, params, out any) {
	c.t.Helper()
	if err := c.Try(session, method, params, out); err != nil {
		c.t.Fatalf("%s: %v\nchromium stderr:\n%s", method, err, c.stderr.String())
	}
}

// Try is Call returning the error instead of failing the test.
func (c *Browser) Try(session, method string, params, out any) error {
	if params == nil {
		params = map[string]any{}
	}
	c.mu.Lock()
	if c.readErr != nil {
		c.mu.Unlock()
		return fmt.Errorf("DevTools connection closed: %w", c.readErr)
	}
	c.nextID++
	id := c.nextID
	ch := make(chan cdpReply, 1)
	c.pending[id] = ch
	msg := map[string]any{"id": id, "method": method, "params": params}
	if session != "" {
		msg["sessionId"] = session
	}
	err := c.conn.WriteJSON(msg)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return errors.New("DevTools connection closed")
		}
		if r.Error != nil {
			return fmt.Errorf("DevTools error %d: %s", r.Error.Code, r.Error.Message)
		}
		if out != nil {
			return json.Unmarshal(r.Result, out)
		}
		return nil
	case <-time.After(60 * time.Second):
		return errors.New("no answer within 60 s")
	}
}

// Page sends a command to the page target.
func (c *Browser) Page(method string, params, out any) {
	c.t.Helper()
	c.Call(c.session, method, params, out)
}

// Eval evaluates a JavaScript expression in the page (DevTools runs it
// as the debugger, which the page's CSP does not restrict) and returns
// its value as JSON.
func (c *Browser) Eval(expr string) json.RawMessage {
	c.t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	c.Page("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r)
	if r.Exception != nil {
		c.t.Fatalf("evaluating %q: %s", expr, r.Exception.Text)
	}
	return r.Result.Value
}

// EvalString evaluates expr and returns its value as a string.
func (c *Browser) EvalString(expr string) string {
	c.t.Helper()
	var s string
	_ = json.Unmarshal(c.Eval(expr), &s)
	return s
}

// WaitFor polls expr (a boolean expression) until it holds, for up to a
// minute: a loaded 2-core machine can be slow, and a timeout fails loudly.
func (c *Browser) WaitFor(what, expr string) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var ok bool
		if err := json.Unmarshal(c.Eval(expr), &ok); err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("waiting for %s: still not true after 60 s; the page is at %s:\n%s", what,
				c.EvalString("location.href"), c.EvalString("document.body ? document.body.innerText.slice(0, 2000) : ''"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Navigate opens url in the page.
func (c *Browser) Navigate(url string) {
	c.t.Helper()
	var r struct {
		ErrorText string `json:"errorText"`
	}
	c.Page("Page.navigate", map[string]any{"url": url}, &r)
	if r.ErrorText != "" {
		c.t.Fatalf("navigating to %s: %s", url, r.ErrorText)
	}
}

// Screenshot captures the page as PNG; fullPage captures its whole height.
func (c *Browser) Screenshot(fullPage bool) []byte {
	c.t.Helper()
	params := map[string]any{"format": "png"}
	if fullPage {
		var m struct {
			CSSContentSize struct {
				Width  float64 `json:"width"`
				Height float64 `json:"height"`
			} `json:"cssContentSize"`
		}
		c.Page("Page.getLayoutMetrics", nil, &m)
		params["captureBeyondViewport"] = true
		params["clip"] = map[string]any{"x": 0, "y": 0, "width": m.CSSContentSize.Width,
			"height": m.CSSContentSize.Height, "scale": 1}
	}
	var r struct {
		Data []byte `json:"data"` // base64 in JSON, decoded by encoding/json
	}
	c.Page("Page.captureScreenshot", params, &r)
	if !bytes.HasPrefix(r.Data, []byte("\x89PNG\r\n\x1a\n")) {
		c.t.Fatalf("the screenshot is not a PNG (%d bytes)", len(r.Data))
	}
	return r.Data
}

// close ends the browser: politely over DevTools, then by killing it.
func (c *Browser) close() {
	if c.conn != nil {
		_ = c.Try("", "Browser.close", nil, nil)
		_ = c.conn.Close()
	}
	exited := make(chan struct{})
	go func() {
		_ = c.cmd.Wait()
		close(exited)
	}()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-exited
	}
}

// Path finds the browser, or says how to get it.
func Path(t *testing.T) string {
	t.Helper()
	if os.Getenv("TOLLGATE_SKIP_BROWSER") == "1" {
		t.Skip("TOLLGATE_SKIP_BROWSER=1: the headless Chromium test is skipped")
	}
	for _, p := range []string{os.Getenv("TOLLGATE_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("the web pages are tested in a real headless Chromium, which is missing: install it " +
		"(Debian/Ubuntu: apt-get install chromium; scripts/test-deps.sh does it), point TOLLGATE_CHROMIUM at it, " +
		"or set TOLLGATE_SKIP_BROWSER=1 to skip only this test")
	return ""
}
