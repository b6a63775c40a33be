package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/config"
)

// maxWeeklyWindows bounds how many weekly windows one cron freeze may turn
// into; a schedule firing more often than this per week is refused.
const maxWeeklyWindows = 500

// policiesFromConfig converts every configured environment into the
// domain's policy. Whatever the domain cannot represent is refused with the
// file and line, never dropped: a freeze or ticket rule silently lost would
// let deploys through that the operator meant to stop.
func policiesFromConfig(cfg *config.Config) (bot.PolicySet, error) {
	var ps []*bot.EnvironmentPolicy
	var errs []error
	for _, env := range cfg.Environments() {
		p, err := policyFromEnvironment(cfg, env)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ps = append(ps, p)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return bot.NewPolicySet(ps...), nil
}

// policyFromEnvironment converts one environment; its error joins every
// problem found, each located in the config file.
func policyFromEnvironment(cfg *config.Config, env *config.Environment) (*bot.EnvironmentPolicy, error) {
	key := fmt.Sprintf("repositories.%s.environments.%s", env.Repository, env.Name)
	var errs []error
	problem := func(line int, sub, format string, args ...any) {
		k := key
		if sub != "" {
			k += "." + sub
		}
		errs = append(errs, fmt.Errorf("%s:%d: %s: %s", cfg.File, line, k, fmt.Sprintf(format, args...)))
	}
	p := &bot.EnvironmentPolicy{
		Repo:              env.Repository,
		Environment:       env.Name,
		Deployers:         teams(cfg.GitHub.Org, env.Deployers),
		Approvers:         teams(cfg.GitHub.Org, env.Approvers),
		Emergency:         teams(cfg.GitHub.Org, env.Emergency.Teams),
		Admins:            teams(cfg.GitHub.Org, cfg.Teams.Admins),
		RequiredApprovals: env.RequiredApprovals,
		ApprovalTTL:       env.ApprovalTTL,
		Branches:          append([]string(nil), env.Branches...),
		RequirePRReview:   env.Require.PRReview,
		RequireChecks:     env.Require.Checks,
		RequiredContexts:  append([]string(nil), env.Require.CheckNames...),
		Production:        env.Production,
	}
	// require_ticket asks a ticket of every request; emergency.require_ticket
	// only of emergency changes (with require_ticket's pattern, or the default).
	if env.RequireTicket {
		p.TicketPattern = env.TicketPattern
	}
	if env.Emergency.RequireTicket {
		if env.TicketPattern == nil {
			problem(env.Line, "emergency.require_ticket", "no ticket pattern to require")
		}
		p.EmergencyTicketPattern = env.TicketPattern
	}
	p.EmergencyReviewWithin = env.Emergency.ReviewWithin
	for i, fw := range env.Freezes {
		ws, err := freezeWindows(fw)
		if err != nil {
			problem(fw.Line, fmt.Sprintf("freeze[%d]", i), "%v", err)
			continue
		}
		p.FreezeWindows = append(p.FreezeWindows, ws...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// teams qualifies config team slugs with the organisation.
func teams(org string, slugs []string) []bot.Team {
	if len(slugs) == 0 {
		return nil
	}
	out := make([]bot.Team, len(slugs))
	for i, s := range slugs {
		out[i] = bot.Team{Org: org, Slug: s}
	}
	return out
}

// freezeWindows converts one config window. A fixed range maps as is. A
// cron window maps to one weekly window per firing in a week, which works
// when the schedule repeats every week (day of month and month are "*")
// and a window is shorter than a week. The weekly window ends at the wall
// clock time start+duration, so "Friday 18:00 for 62h" ends Monday 08:00
// local time also on a weekend the clocks change.
func freezeWindows(fw config.FreezeWindow) ([]bot.FreezeWindow, error) {
	if !fw.Recurring() {
		return []bot.FreezeWindow{{Name: fw.Name, Start: fw.From, End: fw.To}}, nil
	}
	spec := fw.Schedule.String()
	fields := strings.Fields(spec)
	if len(fields) != 5 || fields[2] != "*" || fields[3] != "*" {
		return nil, fmt.Errorf("freeze %q: cron %q restricts the day of month or the month; only weekly schedules (day of month and month \"*\") are supported", fw.Name, spec)
	}
	if fw.Duration <= 0 || fw.Duration >= 7*24*time.Hour {
		return nil, fmt.Errorf("freeze %q: duration %s must be shorter than a week for a weekly schedule", fw.Name, fw.Duration)
	}
	if fw.Duration%time.Minute != 0 {
		return nil, fmt.Errorf("freeze %q: duration %s must be a whole number of minutes", fw.Name, fw.Duration)
	}
	loc := fw.Schedule.Location()
	if loc == nil {
		loc = time.UTC
	}
	// A January week: no time zone changes its clocks in the first half
	// of January, so every firing keeps its wall-clock time.
	weekStart := time.Date(2024, time.January, 7, 0, 0, 0, 0, loc) // a Sunday
	weekEnd := weekStart.AddDate(0, 0, 7)
	var out []bot.FreezeWindow
	for t := fw.Schedule.Next(weekStart.Add(-time.Nanosecond)); !t.IsZero() && t.Before(weekEnd); t = fw.Schedule.Next(t) {
		if len(out) == maxWeeklyWindows {
			return nil, fmt.Errorf("freeze %q: cron %q fires more than %d times a week; use fewer, longer windows", fw.Name, spec, maxWeeklyWindows)
		}
		lt := t.In(loc)
		startMin := int(lt.Weekday())*24*60 + lt.Hour()*60 + lt.Minute()
		endMin := (startMin + int(fw.Duration/time.Minute)) % (7 * 24 * 60)
		out = append(out, bot.FreezeWindow{Name: fw.Name, Weekly: &bot.WeeklyWindow{
			Location:  loc,
			StartDay:  lt.Weekday(),
			StartTime: time.Duration(lt.Hour())*time.Hour + time.Duration(lt.Minute())*time.Minute,
			EndDay:    time.Weekday(endMin / (24 * 60)),
			EndTime:   time.Duration(endMin%(24*60)) * time.Minute,
		}})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("freeze %q: cron %q never fires", fw.Name, spec)
	}
	return out, nil
}
