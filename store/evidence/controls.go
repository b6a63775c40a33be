package evidence

import (
	"bytes"
	_ "embed"
	"fmt"
	"path/filepath"
	"text/template"
	"time"
)

//go:embed controls.md.tmpl
var controlsText string

var controlsTmpl = template.Must(template.New("controls.md").Parse(controlsText))

// writeControls writes controls.md: each control mapped to the files and
// columns of this pack that evidence it.
func writeControls(dir string, opts Options) error {
	var b bytes.Buffer
	err := controlsTmpl.Execute(&b, map[string]string{
		"Range": opts.Range.String(), "Repo": orAll(opts.Repo), "Env": orAll(opts.Environment),
		"Generated": opts.Now().UTC().Format(time.RFC3339),
	})
	if err != nil {
		return fmt.Errorf("render controls.md: %w", err)
	}
	return writeFile(filepath.Join(dir, "controls.md"), b.Bytes())
}
