package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"strings"
	"time"
)

// runHooks runs commands one after another in dir, recording each one; it
// stops at the first that fails.
func (o *op) runHooks(ctx context.Context, r *serverRun, phase, dir string, commands []string, env hookEnv) error {
	for _, cmd := range commands {
		o.logf(r, "%s: %s", phase, cmd)
		out := &hookOutput{red: o.red, log: o.log, prefix: "[" + r.addr + " " + phase + "] "}
		err := r.conn.run(ctx, hookScript(dir, cmd, env), nil, out, out)
		hr := HookResult{Phase: phase, Command: o.red.String(cmd), ExitCode: exitCode(err)}
		hr.Output = out.finish()
		hr.Truncated = out.truncated
		r.res.Hooks = append(r.res.Hooks, hr)
		if err != nil {
			return fmt.Errorf("hook %q failed: %w", o.red.String(cmd), err)
		}
	}
	return nil
}

// exitCode is 0 for success, the exit status of a command that exited, and
// -1 when it did not exit normally.
func exitCode(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	}
	return -1
}

// healthCheck checks the live release on r, retrying as configured.
func (o *op) healthCheck(ctx context.Context, r *serverRun) error {
	hc := o.t.HealthCheck
	if hc.URL == "" && hc.Command == "" {
		return nil
	}
	res := &HealthResult{}
	r.res.Health = res
	var err error
	for attempt := 1; attempt <= hc.Retries+1; attempt++ {
		res.Attempts = attempt
		if hc.URL != "" {
			err = o.checkURL(ctx, strings.ReplaceAll(hc.URL, "{host}", r.srv.Host))
		} else {
			err = o.checkCommand(ctx, r)
		}
		if err == nil {
			res.OK, res.Detail = true, "ok"
			o.logf(r, "health check passed (attempt %d)", attempt)
			return nil
		}
		res.Detail = o.red.String(err.Error())
		o.logf(r, "health check attempt %d failed: %s", attempt, res.Detail)
		if attempt <= hc.Retries {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(hc.Interval):
			}
		}
	}
	return fmt.Errorf("health check failed after %d attempts: %w", res.Attempts, err)
}

func (o *op) checkURL(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, o.t.HealthCheck.Timeout)
	defer cancel()
	shown := o.red.String(url) // the URL may carry a token
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("GET %s: not a valid URL", shown)
	}
	client := o.e.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text quotes the raw URL
		}
		return fmt.Errorf("GET %s: %w", shown, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: status %s", shown, resp.Status)
	}
	return nil
}

func (o *op) checkCommand(ctx context.Context, r *serverRun) error {
	ctx, cancel := context.WithTimeout(ctx, o.t.HealthCheck.Timeout)
	defer cancel()
	out := &hookOutput{red: o.red, log: o.log, prefix: "[" + r.addr + " health] "}
	err := r.conn.run(ctx, hookScript(r.root+"/current", o.t.HealthCheck.Command, o.envFor(r)), nil, out, out)
	output := strings.TrimSpace(out.finish())
	if err != nil {
		if len(output) > 512 {
			output = output[len(output)-512:]
		}
		// Redact before quoting: %q would escape a secret's quotes and
		// backslashes into a form the raw secret no longer matches.
		return fmt.Errorf("command %q: %w: %s", o.red.String(o.t.HealthCheck.Command), err, output)
	}
	return nil
}
