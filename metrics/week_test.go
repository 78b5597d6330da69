package metrics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"contactd/internal/testenv"
)

// employeeMix is how an employee usually sounds: shares of negative (sad,
// angry) and positive (happy) speech.
type employeeMix struct {
	name          string
	station       string
	neg, pos      float64
	driftNeg      float64 // change reached by the end of the drift
	driftPos      float64
	driftFromDays int // working days before the end when the drift starts
}

// TestReplayedWeeksFireExhaustionForTheDriftingEmployeeOnly generates four
// weeks of reception work (Monday to Friday, 8:00–16:00) for four
// employees with their own emotional balance; one of them, dora, drifts
// over her last eight working days towards negative speech. The speech is
// replayed second by second through contactd's emotion metrics, the
// counters sampled as Prometheus would, and Prometheus' rule engine
// (promtool test rules, the shipped rules.yml) must fire the exhaustion
// warning for dora only, and not before her drift has lasted.
func TestReplayedWeeksFireExhaustionForTheDriftingEmployeeOnly(t *testing.T) {
	promtool := testenv.Tool(t, "promtool")
	staff := []employeeMix{
		{name: "anna", station: "desk-1", neg: 0.15, pos: 0.25},
		{name: "ben", station: "desk-2", neg: 0.25, pos: 0.10},
		{name: "carl", station: "desk-3", neg: 0.10, pos: 0.30},
		{name: "dora", station: "desk-4", neg: 0.15, pos: 0.25, driftNeg: 0.25, driftPos: -0.20, driftFromDays: 8},
	}
	reg := prometheus.NewRegistry()
	em := NewEmotion(reg, "clinic")
	for _, s := range staff {
		em.InitStation(s.station, s.name)
	}
	r := rand.New(rand.NewPCG(7, 7))
	start := time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC) // a Monday
	const days = 26                                      // ends on the fourth Friday evening
	// Working days from the end, for the drift.
	var workdays []time.Time
	for d := 0; d < days; d++ {
		day := start.AddDate(0, 0, d)
		if day.Weekday() != time.Saturday && day.Weekday() != time.Sunday {
			workdays = append(workdays, day)
		}
	}
	drift := func(s employeeMix, day time.Time) float64 {
		if s.driftFromDays == 0 {
			return 0
		}
		i := slices.Index(workdays, day)
		into := i - (len(workdays) - s.driftFromDays) + 1 // 1 on the drift's first day
		return math.Max(0, math.Min(1, float64(into)/float64(s.driftFromDays)))
	}
	// Sample the counters every 15 minutes, as a scrape would.
	const step = 15 * time.Minute
	series := map[string][]string{}
	var order []string
	sample := func() {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() != "contactd_employee_emotion_seconds_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				var labels []string
				for _, l := range m.GetLabel() {
					labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
				}
				key := mf.GetName() + "{" + strings.Join(labels, ",") + "}"
				if _, ok := series[key]; !ok {
					order = append(order, key)
				}
				series[key] = append(series[key], fmt.Sprintf("%.0f", m.GetCounter().GetValue()))
			}
		}
	}
	emotions := []string{"neutral", "happy", "sad", "angry"}
	for now := start; now.Before(start.AddDate(0, 0, days)); now = now.Add(step) {
		sample()
		day := now.Truncate(24 * time.Hour)
		if !slices.Contains(workdays, day) || now.Hour() < 8 || now.Hour() >= 16 {
			continue
		}
		// Each employee speaks about a third of the time; every second of
		// speech gets an emotion drawn from their mix of the day.
		for _, s := range staff {
			f := drift(s, day)
			neg := s.neg + f*s.driftNeg + r.NormFloat64()*0.02
			pos := s.pos + f*s.driftPos + r.NormFloat64()*0.02
			for sec := 0; sec < int(step.Seconds()); sec += 3 {
				u := r.Float64()
				var e string
				switch {
				case u < neg/2:
					e = "sad"
				case u < neg:
					e = "angry"
				case u < neg+pos:
					e = "happy"
				default:
					e = emotions[0]
				}
				em.ObserveSecond(s.station, s.name, "employee", 1, e, 0, 0)
			}
		}
	}
	sample()
	// A promtool test over the replayed counters and the shipped rules.
	rules, _ := filepath.Abs(filepath.Join("..", "deploy", "prometheus", "rules.yml"))
	var b strings.Builder
	fmt.Fprintf(&b, "rule_files:\n  - %s\nevaluation_interval: 15m\ntests:\n  - interval: 15m\n    input_series:\n", rules)
	for _, k := range order {
		fmt.Fprintf(&b, "      - series: '%s'\n        values: '%s'\n", k, strings.Join(series[k], " "))
	}
	end := time.Duration(days) * 24 * time.Hour
	lastFriday := end - 8*time.Hour // 16:00 on the last day
	alert := func(at time.Duration, who []string) {
		fmt.Fprintf(&b, "      - eval_time: %s\n        alertname: ContactdEmotionalExhaustionRisk\n", promDuration(at))
		if len(who) == 0 {
			b.WriteString("        exp_alerts: []\n")
			return
		}
		b.WriteString("        exp_alerts:\n")
		for _, w := range who {
			fmt.Fprintf(&b, `          - exp_labels: {severity: warning, site: clinic, employee: %s}
            exp_annotations:
              summary: "%s: signs of emotional exhaustion over the last week"
              description: "Over the last 7 days %s's speech was on average more negative and less positive than their own 14-day baseline, and getting more so. Talk with them; this is a prompt for a conversation, not a diagnosis."
`, w, w, w)
		}
	}
	b.WriteString("    alert_rule_test:\n")
	alert(lastFriday-7*24*time.Hour, nil) // before the drift
	alert(lastFriday-3*24*time.Hour, nil) // three working days into it: too early
	alert(lastFriday, []string{"dora"})   // eight working days in: dora only
	dir := t.TempDir()
	test := filepath.Join(dir, "week_test.yml")
	os.WriteFile(test, []byte(b.String()), 0o644)
	out, err := exec.Command(promtool, "test", "rules", test).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// promDuration writes d in Prometheus' duration syntax (days and hours).
func promDuration(d time.Duration) string {
	days := int(d / (24 * time.Hour))
	h := int((d % (24 * time.Hour)) / time.Hour)
	return fmt.Sprintf("%dd%dh", days, h)
}
