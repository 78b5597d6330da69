package metrics

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"contactd/contact"
	"contactd/internal/testenv"
	"contactd/segmenter"
)

// TestRules: the shipped rules pass `promtool check rules`, and their unit
// tests (deploy/prometheus/rules_test.yml) pass `promtool test rules`:
// the exhaustion warning fires for the drifting employee only, acute
// strain for the bad afternoon only, and the indices come out right.
func TestRules(t *testing.T) {
	promtool := testenv.Tool(t, "promtool")
	dir := filepath.Join("..", "deploy", "prometheus")
	for _, args := range [][]string{{"check", "rules", "rules.yml"}, {"test", "rules", "rules_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestCardinalityIsBounded feeds a busy day — many contacts with random
// ids, every rating value, speech of every kind, unknown speakers and
// emotions — and checks that every label value comes from configuration
// or a fixed list, that the series count is what stations × employees ×
// classes allow, and that `promtool check metrics` is clean.
func TestCardinalityIsBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	p := NewPipeline(reg)
	em := NewEmotion(reg, "clinic")
	ing := NewIngest(reg, "clinic")
	stations := map[string]string{"desk-1": "anna", "desk-2": "ben", "room-3": ""}
	p.EmployeeOf = func(st string, _ time.Time) string { return stations[st] }
	ing.Known = func(st string) bool { _, ok := stations[st]; return ok }
	for st, emp := range stations {
		p.InitStation("clinic", st, emp)
		em.InitStation(st, emp)
		ing.SetStreamUp(st, true)
	}
	r := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	var res segmenter.Result
	rules := contact.DefaultSetRules()
	var scales []contact.Scale
	for s := range rules {
		scales = append(scales, s)
	}
	slices.Sort(scales)
	for i := 0; i < 2000; i++ {
		st := []string{"desk-1", "desk-2", "room-3"}[i%3]
		c := &contact.Contact{ID: fmt.Sprintf("%026d", r.Uint64()), Station: st, Arrive: t0.Add(time.Duration(i) * time.Minute)}
		c.Leave = c.Arrive.Add(time.Duration(30+r.IntN(600)) * time.Second)
		if i%2 == 0 {
			sc := scales[i%len(scales)]
			rule := rules[sc]
			vals := append(append(slices.Clone(rule.Negative), rule.Neutral...), rule.Positive...)
			c.Rating = &contact.Press{Scale: sc, Value: vals[r.IntN(len(vals))], At: c.Leave}
			c.Set = rules.SetOf(c.Rating)
		} else {
			c.Set = contact.Unrated
		}
		if i%50 == 0 {
			c.AddFlag(contact.FlagMisuse)
		}
		if st == "room-3" {
			c.Employee = "ben"
			c.AddFlag(contact.FlagOverrun)
			c.Conversation = &contact.Conversation{DoctorSeconds: 30, PatientSeconds: 20, DoctorShare: 0.6, Turns: r.IntN(40),
				DoctorInterruptions: r.IntN(5), PatientRate: 4, DoctorRate: 5, PatientFirstSay: -1,
				PatientTrend: []string{"improving", "steady", "worsening", "unknown", "sideways"}[r.IntN(5)]}
		}
		res.Contacts = append(res.Contacts, c)
		res.Orphans = append(res.Orphans, contact.Rating{Station: st, Value: 1, Scale: contact.Scale4pt, At: c.Leave})
		for _, who := range []string{"employee", "patient", "unattributed", "a stranger"} {
			for _, emo := range []string{"neutral", "happy", "sad", "angry", "fearful", ""} {
				em.ObserveSecond(st, stations[st], who, r.Float64(), emo, r.Float64()*2-1, r.Float64()*2-1)
			}
		}
		for _, expr := range []string{"neutral", "fear", "surprise", "contempt", ""} {
			em.ObserveFace(st, stations[st], 0.25, expr, r.Float64(), r.Float64()*2-1, r.Float64()*2-1)
		}
	}
	p.ObserveResult("clinic", &res)
	ing.AddRejected("unknown-station-"+fmt.Sprint(r.Uint64()), "bad_token")

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string][]string{
		"site": {"clinic"}, "station": {"desk-1", "desk-2", "room-3", ""}, "employee": {"anna", "ben", ""},
		"set": {"negative", "neutral", "positive", "unrated"}, "box": {"top", "bottom", "middle"},
		"flag": {"leave_missing", "misuse", "no_media", "overrun", "unscheduled"}, "trend": Trends, "speaker": Speakers, "emotion": append(slices.Clone(EmotionClasses), FaceClasses...),
		"modality": {"voice", "face"}, "stage": {"recorder", "voice", "face"}, "scale": {"2pt", "3pt", "4pt", "5pt", "nps"},
		"value": {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}, "reason": {"bad_token"}, "kind": {"events", "ratings"},
		"le": nil, // histogram buckets: fixed by the code
	}
	series := 0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			series++
			for _, l := range m.GetLabel() {
				vals, known := allowed[l.GetName()]
				if !known {
					t.Errorf("%s: label %s is not a bounded one", mf.GetName(), l.GetName())
					continue
				}
				if vals != nil && !slices.Contains(vals, l.GetValue()) {
					t.Errorf("%s{%s=%q}: value outside configuration and fixed lists", mf.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
	// stations × employees × classes: 2000 contacts with random ids must
	// not have made more series than the configuration allows.
	if series > 3*200 {
		t.Errorf("%d series for 3 stations", series)
	}
	t.Logf("%d metric families, %d series for 3 stations", len(mfs), series)
	var buf bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(testenv.Tool(t, "promtool"), "check", "metrics")
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
