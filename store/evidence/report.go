package evidence

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"path/filepath"
	"sort"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

//go:embed report.html.tmpl
var reportText string

var reportTmpl = template.Must(template.New("report.html").Parse(reportText))

// reportData is what report.html.tmpl renders.
type reportData struct {
	Range, Repo, Env, Generated, Source, Key string
	Population                               population
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

func writeReport(dir string, opts Options, ds *dataset, sum *Summary, now time.Time, production func(repo, env string) bool) error {
	d := reportData{Range: opts.Range.String(), Repo: orAll(opts.Repo), Env: orAll(opts.Environment),
		Generated: now.Format(time.RFC3339), Source: opts.Source, Key: opts.Verifier.Name(),
		Reconciled: sum.Reconciliation.OK(), Reconciliation: sum.Reconciliation.Text(opts),
		VerifyOK: sum.Verify.OK, VerifyText: FormatVerify(opts.Source, opts.Verifier.Name(), sum.Verify)}
	prodDeploys, emergencies := 0, 0
	for _, c := range ds.changes {
		if c.Deployed() && production(c.Created.Repo, c.Created.Environment) {
			prodDeploys++
		}
		if c.Emergency() {
			emergencies++
		}
	}
	d.Population = countPopulation(ds, sum, opts, now)
	d.Figures = []figure{
		{"changes requested", fmt.Sprint(sum.Changes), false},
		{"deploys started", fmt.Sprint(sum.Deployed), false},
		{"production deploys", fmt.Sprint(prodDeploys), false},
		{"emergency changes", fmt.Sprint(emergencies), false},
		{"refused attempts", fmt.Sprint(len(ds.refusals)), false},
		{"exceptions", fmt.Sprint(len(sum.Exceptions)), len(sum.Exceptions) > 0},
		{"population reconciled", yesNo(d.Reconciled), !d.Reconciled},
		{"audit log verified", yesNo(sum.Verify.OK), !sum.Verify.OK},
	}
	d.Charts = []chart{weeklyChart(ds), leadTimeChart(ds), emergencyChart(ds, opts, now), refusalChart(ds)}
	d.Exceptions = sum.Exceptions
	if len(d.Exceptions) > maxReportExceptions {
		d.MoreExceptions = len(d.Exceptions) - maxReportExceptions
		d.Exceptions = d.Exceptions[:maxReportExceptions]
	}
	for _, c := range pickSample(ds.changes, opts.SampleSize, opts.Seed) {
		d.Samples = append(d.Samples, c.ID)
	}
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

// weeklyChart counts changes by the ISO week of their request, per environment.
func weeklyChart(ds *dataset) chart {
	var weeks []string
	index := map[string]int{}
	start := ds.rng.From.UTC()
	start = start.AddDate(0, 0, -int((start.Weekday()+6)%7)) // Monday
	for t := start; t.Before(ds.rng.To); t = t.AddDate(0, 0, 7) {
		y, w := t.ISOWeek()
		key := fmt.Sprintf("%d-W%02d", y, w)
		index[key] = len(weeks)
		weeks = append(weeks, key)
	}
	envs := map[string][]float64{}
	for _, c := range ds.changes {
		y, w := c.CreatedAt.ISOWeek()
		i, ok := index[fmt.Sprintf("%d-W%02d", y, w)]
		if !ok {
			continue
		}
		if envs[c.Created.Environment] == nil {
			envs[c.Created.Environment] = make([]float64, len(weeks))
		}
		envs[c.Created.Environment][i]++
	}
	var ss []series
	for _, env := range sortedKeys(envs) {
		ss = append(ss, series{env, envs[env]})
	}
	return chart{Title: "Changes per week, by environment", Note: "requests created per ISO week (changes.csv)",
		SVG: stackedBars("Changes per week by environment", weeks, ss)}
}

var leadBuckets = []struct {
	label string
	upTo  time.Duration
}{{"under 5 min", 5 * time.Minute}, {"5–15 min", 15 * time.Minute}, {"15–60 min", time.Hour},
	{"1–4 h", 4 * time.Hour}, {"4–24 h", 24 * time.Hour}, {"over 24 h", 1<<63 - 1}}

// leadTimeChart histograms the time from request to the approval that
// completed it, for changes that needed approvals.
func leadTimeChart(ds *dataset) chart {
	counts := make([]float64, len(leadBuckets))
	labels := make([]string, len(leadBuckets))
	n := 0
	for _, c := range ds.changes {
		valid := c.ValidApprovals()
		if len(valid) == 0 || !c.Deployed() {
			continue
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
				counts[i]++
				break
			}
		}
		n++
	}
	for i, b := range leadBuckets {
		labels[i] = b.label
	}
	return chart{Title: "Approval lead time", Note: "request to last approval, " + countText(n, "approved deploy", "approved deploys"),
		SVG: hBars("Approval lead time", labels, counts, " changes", nil)}
}

// emergencyChart shows each emergency change's review latency; pending
// ones are drawn up to now in red.
func emergencyChart(ds *dataset, opts Options, now time.Time) chart {
	within := opts.reviewWithin()
	var labels []string
	var values []float64
	var colors []string
	for _, c := range ds.changes {
		if !c.Emergency() || c.Finish == nil {
			continue
		}
		st := c.emergencyStatus(within(c.Created.Repo, c.Created.Environment), now)
		label := fmt.Sprintf("%s %s %s", stamp(c.Finished)[:10], c.Created.Environment, c.ID)
		switch {
		case c.Review != nil && !c.Review.ReviewedAt.IsZero():
			values = append(values, c.Review.ReviewedAt.Sub(c.Finished).Hours())
			colors = append(colors, map[bool]string{true: palette[3], false: palette[2]}[st.overdue])
		case st.pending:
			values = append(values, now.Sub(c.Finished).Hours())
			colors = append(colors, palette[3])
			label += " (pending)"
		default:
			continue
		}
		labels = append(labels, label)
	}
	note := countText(len(labels), "emergency change", "emergency changes") + " deployed; hours from deploy to review (red: overdue or still pending)"
	if len(labels) == 0 {
		note = "no emergency change was deployed in the range"
	}
	return chart{Title: "Emergency changes and review latency", Note: note,
		SVG: hBars("Emergency review latency", labels, values, " h", colors)}
}

// refusalChart counts refusals by code.
func refusalChart(ds *dataset) chart {
	counts := map[string]float64{}
	for _, e := range ds.refusals {
		code := ""
		switch e.Action {
		case bot.ActionPolicyDecided:
			code = string(decode[bot.Decision](e.entry).Code)
		case bot.ActionApprovalRefused:
			code = decode[approvalData](e.entry).Code
		default:
			code = decode[refusedData](e.entry).Code
		}
		if code == "" {
			code = "(none)"
		}
		counts[code]++
	}
	labels := sortedKeys(counts)
	sort.SliceStable(labels, func(i, j int) bool { return counts[labels[i]] > counts[labels[j]] })
	values := make([]float64, len(labels))
	for i, l := range labels {
		values[i] = counts[l]
	}
	return chart{Title: "Refusals by reason", Note: countText(len(ds.refusals), "refused attempt", "refused attempts") + " (refusals.csv)",
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
