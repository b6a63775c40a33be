package evidence

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// csvFile is one CSV file of the pack, written a row at a time.
type csvFile struct {
	f *os.File
	w *bufio.Writer
}

// createCSV creates dir/name (never over an existing file) and writes the header.
func createCSV(dir, name string, header []string) (*csvFile, error) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", name, err)
	}
	c := &csvFile{f: f, w: bufio.NewWriterSize(f, 64<<10)}
	writeCSVRow(c.w, header)
	return c, nil
}

// row writes one row; a write error surfaces at close.
func (c *csvFile) row(r []string) error {
	writeCSVRow(c.w, r)
	return nil
}

// close flushes and closes the file.
func (c *csvFile) close() error {
	err := c.w.Flush()
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(c.f.Name()), err)
	}
	return nil
}

// csvWriter is what writeCSVRow writes to: a bufio.Writer or a bytes.Buffer.
type csvWriter interface {
	WriteByte(c byte) error
	WriteString(s string) (int, error)
}

// writeCSVRow writes one row as RFC 4180 CSV, byte for byte as
// encoding/csv's Writer would, except that each cell is neutralised
// (neutralise) and a cell containing ';' is quoted too: a spreadsheet in a
// locale that splits on ';' must not see a cell break out of its quotes.
func writeCSVRow(w csvWriter, row []string) {
	for i, v := range row {
		if i > 0 {
			w.WriteByte(',')
		}
		v = neutralise(v)
		if !csvNeedsQuotes(v) {
			w.WriteString(v)
			continue
		}
		w.WriteByte('"')
		w.WriteString(strings.ReplaceAll(v, `"`, `""`))
		w.WriteByte('"')
	}
	w.WriteByte('\n')
}

// csvNeedsQuotes is encoding/csv's rule (a comma, quote, CR or LF, a
// leading space, or the field \.) plus ';'.
func csvNeedsQuotes(v string) bool {
	if v == "" {
		return false
	}
	if v == `\.` || strings.ContainsAny(v, ",;\"\r\n") {
		return true
	}
	r, _ := utf8.DecodeRuneInString(v)
	return unicode.IsSpace(r)
}

// Formula triggers and the separators a spreadsheet may split a cell on.
const (
	formulaTriggers = "=+-@\t\r"
	cellSeparators  = ",;\t\r\n"
)

// neutralise puts an apostrophe before every formula trigger (= + - @,
// tab, CR) that starts the cell or follows a separator (, ; tab or a line
// break), spaces between them skipped: PR titles, refs and reasons are
// typed by users, and whichever separator a spreadsheet splits on, no
// piece of a cell may start a formula.
func neutralise(v string) string {
	var b []byte
	start := true // at the cell's start or after a separator (and spaces)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if start && strings.IndexByte(formulaTriggers, c) >= 0 {
			if b == nil {
				b = append(make([]byte, 0, len(v)+4), v[:i]...)
			}
			b = append(b, '\'')
		}
		if b != nil {
			b = append(b, c)
		}
		switch {
		case strings.IndexByte(cellSeparators, c) >= 0:
			start = true
		case c != ' ':
			start = false
		}
	}
	if b == nil {
		return v
	}
	return string(b)
}

func join(ss []string) string { return strings.Join(ss, "; ") }

func orNone(ss []string) string {
	if len(ss) == 0 {
		return "none"
	}
	return strings.Join(ss, ", ")
}

func seqStr(seq int64, ok bool) string {
	if !ok {
		return ""
	}
	return strconv.FormatInt(seq, 10)
}

func idStr(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

func rawStr(r []byte) string {
	if len(r) == 0 || string(r) == "null" {
		return ""
	}
	return string(r)
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
