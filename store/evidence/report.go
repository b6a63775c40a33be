package evidence

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"path/filepath"
	"sort"
	"time"
)

//go:embed report.html.tmpl
var reportText string

var reportTmpl = template.Must(template.New("report.html").Parse(reportText))

// reportData is what report.html.tmpl renders.
type reportData struct {
	Range, Repo, Env, Generated, Source, Key string
	Figures                                  []figure
	Charts                                   []chart
	Exceptions                               []Exception
	MoreExceptions                           int
	Reconciled                               bool
	Reconciliation                           string
	VerifyOK                                 bool
	VerifyText                               string
	Samples                                  []string
	Files                                    []fileLink
}

type figure struct {
	Label, Value string
	Bad          bool
}

type chart struct {
	Title, Note string
	SVG         template.HTML
}

type fileLink struct{ Name, What string }

// maxReportExceptions caps the table in report.html; exceptions.csv has all.
const maxReportExceptions = 300

func writeReport(dir string, opts Options, t *tally, log *logSummary, sum *Summary, now time.Time) error {
	d := reportData{Range: opts.Range.String(), Repo: orAll(opts.Repo), Env: orAll(opts.Environment),
		Generated: now.Format(time.RFC3339), Source: opts.Source, Key: opts.Verifier.Name(),
		Reconciled: sum.Reconciliation.OK(), Reconciliation: sum.Reconciliation.Text(opts),
		VerifyOK: sum.Verify.OK, VerifyText: FormatVerify(opts.Source, opts.Verifier.Name(), sum.Verify)}
	d.Figures = []figure{
		{"changes requested", fmt.Sprint(sum.Changes), false},
		{"deploys started", fmt.Sprint(sum.Deployed), false},
		{"production deploys", fmt.Sprint(t.prodDeploys), false},
		{"emergency changes", fmt.Sprint(t.emergencies), false},
		{"refused attempts", fmt.Sprint(log.refusals), false},
		{"exceptions", fmt.Sprint(len(sum.Exceptions)), len(sum.Exceptions) > 0},
		{"population reconciled", yesNo(d.Reconciled), !d.Reconciled},
		{"audit log verified", yesNo(sum.Verify.OK), !sum.Verify.OK},
	}
	d.Charts = []chart{t.weeklyChart(), t.leadTimeChart(), t.emergencyChart(), refusalChart(log)}
	d.Exceptions = sum.Exceptions
	if len(d.Exceptions) > maxReportExceptions {
		d.MoreExceptions = len(d.Exceptions) - maxReportExceptions
		d.Exceptions = d.Exceptions[:maxReportExceptions]
	}
	d.Samples = t.samples
	d.Files = []fileLink{
		{"changes.csv", "the complete population of changes requested in the range"},
		{"approvals.csv", "every approval, its approver's teams and whether it preceded the deploy"},
		{"refusals.csv", "every denied attempt and why"},
		{"emergency_changes.csv", "emergency changes with their after-the-fact review"},
		{"access_reviews.csv", "access review snapshots and sign-offs"},
		{"access_changes.csv", "access revoked, identities linked and unlinked, revocation latency"},
		{"locks_and_freezes.csv", "environment locks and freeze windows"},
		{"exceptions.csv", "every exception listed below"},
		{"reconciliation.txt", "changes.csv counted against the audit log and the requests table"},
		{"audit.jsonl", "the audit entries of the range"},
		{"audit.proof", "proof that audit.jsonl is exactly the signed log's entries"},
		{"checkpoint.txt", "the latest signed checkpoint"},
		{"verify.txt", "the result of verifying the whole audit log"},
		{"controls.md", "each control mapped to the files and columns that evidence it"},
		{"MANIFEST", "SHA-256 of every file, signed with the audit key"},
	}
	var b bytes.Buffer
	if err := reportTmpl.Execute(&b, d); err != nil {
		return fmt.Errorf("render report.html: %w", err)
	}
	return writeFile(filepath.Join(dir, "report.html"), b.Bytes())
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

// tally accumulates, one change at a time, what report.html and
// reconciliation.txt need: counts and the charts' bins, never the changes.
type tally struct {
	rec                      Reconciliation
	prodDeploys, emergencies int
	weeks                    []string
	weekIndex                map[string]int
	envWeeks                 map[string][]float64 // environment → changes per week
	lead                     []float64            // per leadBuckets
	leadN                    int
	emLabels, emColors       []string // one bar per emergency change that finished
	emValues                 []float64
	samples                  []string // ids of the sampled changes, in creation order
	reviewWithin             func(repo, env string) time.Duration
	now                      time.Time
}

func newTally(opts Options, now time.Time) *tally {
	t := &tally{rec: Reconciliation{ByState: map[string]int{}}, weekIndex: map[string]int{},
		envWeeks: map[string][]float64{}, lead: make([]float64, len(leadBuckets)), reviewWithin: opts.reviewWithin(), now: now}
	start := opts.Range.From.UTC()
	start = start.AddDate(0, 0, -int((start.Weekday()+6)%7)) // Monday
	for w := start; w.Before(opts.Range.To); w = w.AddDate(0, 0, 7) {
		y, n := w.ISOWeek()
		key := fmt.Sprintf("%d-W%02d", y, n)
		t.weekIndex[key] = len(t.weeks)
		t.weeks = append(t.weeks, key)
	}
	return t
}

// add counts one change of the population.
func (t *tally) add(c *Change, production bool) {
	r := &t.rec
	r.CreatedEntries++ // one per change: a change is created by its request.created entry
	r.Rows++
	r.ByState[c.Outcome]++
	if c.Deployed() {
		r.StartedRows++
		if production {
			t.prodDeploys++
		}
	}
	if c.Finish != nil {
		r.FinishedRows++
	}
	r.StartedEntries += c.startedEntries
	r.FinishedEntries += c.finishedEntries
	if c.Emergency() {
		t.emergencies++
		t.addEmergency(c)
	}
	y, w := c.CreatedAt.ISOWeek()
	if i, ok := t.weekIndex[fmt.Sprintf("%d-W%02d", y, w)]; ok {
		if t.envWeeks[c.Created.Environment] == nil {
			t.envWeeks[c.Created.Environment] = make([]float64, len(t.weeks))
		}
		t.envWeeks[c.Created.Environment][i]++
	}
	t.addLead(c)
}

// addLead bins the time from request to the approval that completed it.
func (t *tally) addLead(c *Change) {
	valid := c.ValidApprovals()
	if len(valid) == 0 || !c.Deployed() {
		return
	}
	last := valid[0].At
	for _, a := range valid {
		if a.At.After(last) {
			last = a.At
		}
	}
	lead := last.Sub(c.CreatedAt)
	for i, b := range leadBuckets {
		if lead < b.upTo {
			t.lead[i]++
			break
		}
	}
	t.leadN++
}

// addEmergency adds an emergency change's review latency bar; a pending
// one is drawn up to now in red.
func (t *tally) addEmergency(c *Change) {
	if c.Finish == nil {
		return
	}
	st := c.emergencyStatus(t.reviewWithin(c.Created.Repo, c.Created.Environment), t.now)
	day := stamp(c.Finished)
	label := fmt.Sprintf("%s %s %s", day[:min(len(day), 10)], c.Created.Environment, c.ID)
	switch {
	case c.Review != nil && !c.Review.ReviewedAt.IsZero():
		t.emValues = append(t.emValues, c.Review.ReviewedAt.Sub(c.Finished).Hours())
		t.emColors = append(t.emColors, map[bool]string{true: palette[3], false: palette[2]}[st.overdue])
	case st.pending:
		t.emValues = append(t.emValues, t.now.Sub(c.Finished).Hours())
		t.emColors = append(t.emColors, palette[3])
		label += " (pending)"
	default:
		return
	}
	t.emLabels = append(t.emLabels, label)
}

// reconciliation completes the counts with the pass over the log's and
// the requests table's.
func (t *tally) reconciliation(log *logSummary, tableRows int) Reconciliation {
	r := t.rec
	r.TableRows, r.AuditFirst, r.AuditEnd, r.LogSize = tableRows, log.first, log.end, log.size
	r.FinishedInRange, r.FinishedEarlier = log.finishedInRange, log.finishedEarlier
	return r
}

// weeklyChart counts changes by the ISO week of their request, per environment.
func (t *tally) weeklyChart() chart {
	var ss []series
	for _, env := range sortedKeys(t.envWeeks) {
		ss = append(ss, series{env, t.envWeeks[env]})
	}
	return chart{Title: "Changes per week, by environment", Note: "requests created per ISO week (changes.csv)",
		SVG: stackedBars("Changes per week by environment", t.weeks, ss)}
}

var leadBuckets = []struct {
	label string
	upTo  time.Duration
}{{"under 5 min", 5 * time.Minute}, {"5–15 min", 15 * time.Minute}, {"15–60 min", time.Hour},
	{"1–4 h", 4 * time.Hour}, {"4–24 h", 24 * time.Hour}, {"over 24 h", 1<<63 - 1}}

// leadTimeChart histograms the time from request to the approval that
// completed it, for changes that needed approvals.
func (t *tally) leadTimeChart() chart {
	labels := make([]string, len(leadBuckets))
	for i, b := range leadBuckets {
		labels[i] = b.label
	}
	return chart{Title: "Approval lead time", Note: fmt.Sprintf("request to last approval, %d approved deploys", t.leadN),
		SVG: hBars("Approval lead time", labels, t.lead, " changes", nil)}
}

// emergencyChart shows each emergency change's review latency.
func (t *tally) emergencyChart() chart {
	note := fmt.Sprintf("%d emergency changes deployed; hours from deploy to review (red: overdue or still pending)", len(t.emLabels))
	if len(t.emLabels) == 0 {
		note = "no emergency change was deployed in the range"
	}
	return chart{Title: "Emergency changes and review latency", Note: note,
		SVG: hBars("Emergency review latency", t.emLabels, t.emValues, " h", t.emColors)}
}

// refusalChart counts refusals by code.
func refusalChart(log *logSummary) chart {
	counts := log.refusalCodes
	labels := sortedKeys(counts)
	sort.SliceStable(labels, func(i, j int) bool { return counts[labels[i]] > counts[labels[j]] })
	values := make([]float64, len(labels))
	for i, l := range labels {
		values[i] = counts[l]
	}
	return chart{Title: "Refusals by reason", Note: fmt.Sprintf("%d refused attempts (refusals.csv)", log.refusals),
		SVG: hBars("Refusals by reason", labels, values, "", nil)}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
