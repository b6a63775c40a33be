package evidence

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
)

// Cells as users type them into PR titles, refs, reasons and tickets.
var hostileCells = []string{
	"=cmd|' /C calc'!A0",
	"Fix;=cmd|' /C calc'!A0",
	"Fix; =cmd|' /C calc'!A0",
	"Fix,+1+1",
	"a;b;@SUM(A1:A9)",
	"ok\t-2+3",
	"ok\r=1",
	"line one\n=HYPERLINK(\"https://evil\")",
	"alice; bob",
	"plain text",
	"",
}

// startsFormula reports whether a spreadsheet would run cell as a formula.
func startsFormula(cell string) bool {
	cell = strings.TrimLeft(cell, " ")
	return cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0]))
}

func TestCSVCellsStartNoFormulaWhateverTheSeparator(t *testing.T) {
	var buf bytes.Buffer
	writeCSVRow(&buf, []string{"request_id", "reason"})
	for _, c := range hostileCells {
		writeCSVRow(&buf, []string{"r1", c})
	}
	b := buf.Bytes()
	for _, dialect := range []struct {
		name  string
		comma rune
	}{{"comma (RFC 4180)", ','}, {"semicolon (Excel in de, fr, nl… locales)", ';'}, {"tab", '\t'}} {
		t.Run(dialect.name, func(t *testing.T) {
			r := csv.NewReader(bytes.NewReader(b))
			r.Comma, r.LazyQuotes, r.FieldsPerRecord = dialect.comma, true, -1
			recs, err := r.ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range recs {
				for _, cell := range rec {
					if startsFormula(cell) {
						t.Errorf("cell %q would run as a formula\nCSV:\n%s", cell, b)
					}
				}
			}
		})
	}

	// Read as RFC 4180, every cell is one cell, with what the user typed
	// still readable after the apostrophes.
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(recs) != len(hostileCells)+1 {
		t.Fatalf("read back %d records, %v", len(recs), err)
	}
	for i, c := range hostileCells {
		if got := strings.ReplaceAll(recs[i+1][1], "'", ""); got != strings.ReplaceAll(c, "'", "") {
			t.Errorf("cell %q read back as %q", c, recs[i+1][1])
		}
	}
	if want := `r1,"Fix;'=cmd|' /C calc'!A0"` + "\n"; !strings.Contains(string(b), want) {
		t.Errorf("CSV lacks %q:\n%s", want, b)
	}
}

func TestCSVQuotesCellsWithASemicolon(t *testing.T) {
	tests := []struct{ cell, want string }{
		{"alice; bob", `"alice; bob"`},
		{"a,b", `"a,b"`},
		{`say "hi"`, `"say ""hi"""`},
		{" lead", `" lead"`},
		{`\.`, `"\."`},
		{"plain", "plain"},
		{"-1", "'-1"},
		{"", ""},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		writeCSVRow(&b, []string{tt.cell})
		if got := strings.TrimSuffix(b.String(), "\n"); got != tt.want {
			t.Errorf("cell %q written as %s, want %s", tt.cell, got, tt.want)
		}
	}
}
