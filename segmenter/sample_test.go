package segmenter

import (
	"os"
	"slices"
	"testing"

	"contactd/contact"
)

// TestSampleFixture runs the committed sample through parser and rules.
func TestSampleFixture(t *testing.T) {
	open := func(p string) *os.File {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	evs, bad, err := contact.ParseEvents(open("../testdata/sample/events.jsonl"), "events.jsonl")
	if err != nil || len(bad) != 0 {
		t.Fatal(err, bad)
	}
	rs, bad, err := contact.ParseRatings(open("../testdata/sample/ratings.jsonl"), "ratings.jsonl")
	if err != nil || len(bad) != 0 {
		t.Fatal(err, bad)
	}
	res := Run(DefaultConfig(), contact.DefaultSetRules(), Input{Events: evs, Ratings: rs})
	// By the rules: the flap at 09:00:40 merges; the 2 s presence at 09:03 is a
	// pass-by; 12:06+03:00 is 09:06Z, an arrive while the 09:05 contact is
	// open, so that one closes there with its leave missing and the out-of-order
	// leave at 09:07:20 closes the next. The presses at 09:01:40/41 collapse to
	// 0; the one at 09:04 is 2.5 min after the last leave: an orphan.
	var got []string
	for _, c := range res.Contacts {
		s := c.Arrive.UTC().Format("15:04:05") + "-" + c.Leave.UTC().Format("15:04:05") + " " + string(c.Set)
		for _, f := range c.Flags {
			s += " " + string(f)
		}
		got = append(got, s)
	}
	want := []string{"09:00:10-09:01:30 negative", "09:05:00-09:06:00 unrated leave_missing", "09:06:00-09:07:20 positive"}
	if !slices.Equal(got, want) {
		t.Errorf("contacts %q, want %q", got, want)
	}
	if len(res.PassBys) != 1 || len(res.Orphans) != 1 || len(res.Debounced) != 1 {
		t.Errorf("pass-bys %d, orphans %d, debounced %d; want 1 each", len(res.PassBys), len(res.Orphans), len(res.Debounced))
	}
}
