package deploy

import (
	"fmt"
	"strings"
)

// checkHashes compares the server's sha256sum output for the files in list
// with the manifest.
func (o *op) checkHashes(r *serverRun, paths []string, st *stagedTree, name, out string, runErr error) error {
	want := map[string]string{}
	for _, p := range r.res.Sent {
		want["releases/"+name+"/"+p] = st.index[p].SHA256
	}
	want[".tollgate/"+name+"/manifest"] = st.manifestSum
	got := parseSHA256Sum(out)
	for _, p := range paths {
		switch h, ok := got[p]; {
		case !ok:
			return fmt.Errorf("%s is missing after upload (%v)", p, runErr)
		case h != want[p]:
			return fmt.Errorf("%s has sha256 %s on the server, manifest says %s", p, h, want[p])
		}
	}
	if runErr != nil {
		return fmt.Errorf("extract and hash: %w", runErr)
	}
	o.logf(r, "verified %d files against the manifest (digest %s)", len(paths), st.digest())
	return nil
}

// parseSHA256Sum reads the output of sha256sum ("<hex>  <name>", undoing its
// escaping of names that contain a backslash or newline: such lines start
// with a backslash) or of openssl dgst -sha256 -r ("<hex> *<name>", never
// escaped; its lines start with a hex digit).
func parseSHA256Sum(out string) map[string]string {
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		escaped := strings.HasPrefix(line, `\`)
		line = strings.TrimPrefix(line, `\`)
		if len(line) < 66 || (line[64:66] != "  " && line[64:66] != " *") {
			continue
		}
		name := line[66:]
		if escaped {
			name = strings.NewReplacer(`\\`, `\`, `\n`, "\n", `\r`, "\r").Replace(name)
		}
		got[name] = line[:64]
	}
	return got
}
