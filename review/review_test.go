package review

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestJournalLatestWinsAndSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reviews.jsonl")
	j, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(j.Put(Review{Contact: "c1", Causes: []string{"waited"}, By: "olga", At: at}))
	must(j.Put(Review{Contact: "c2", Reviewed: true, By: "olga", At: at}))
	must(j.Put(Review{Contact: "c1", Reviewed: true, Causes: []string{"rudeness", "price"}, Note: "shouted", By: "olga", At: at.Add(time.Minute)}))
	j.Close()
	// A crash left half a line at the end, then the server wrote on.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"contact":"c3","revi` + "\n")
	f.Close()
	j, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	must(j.Put(Review{Contact: "c4", Reviewed: true, By: "ivan", At: at}))
	j.Close()
	j, _ = Open(path, nil)
	defer j.Close()
	all := j.All()
	if len(all) != 3 {
		t.Fatalf("reviews %+v", all)
	}
	c1, _ := j.Get("c1")
	if !c1.Reviewed || strings.Join(c1.Causes, ",") != "rudeness,price" || c1.Note != "shouted" {
		t.Errorf("c1 %+v", c1)
	}
	if _, ok := j.Get("c3"); ok {
		t.Error("the torn line became a review")
	}
	if r, _ := j.Get("c4"); !r.Reviewed || r.By != "ivan" {
		t.Errorf("c4 %+v", r)
	}
}

func TestReviewCheck(t *testing.T) {
	causes := []string{"waited", "rudeness"}
	for _, tc := range []struct {
		r    Review
		want string
	}{
		{Review{Contact: "c", Causes: []string{"waited"}, Labels: map[string]string{"patient": "angry"}}, ""},
		{Review{}, "contact"},
		{Review{Contact: "c", Causes: []string{"noise"}}, `"noise" is not a configured cause`},
		{Review{Contact: "c", Note: strings.Repeat("x", MaxNote+1)}, "note"},
		{Review{Contact: "c", Labels: map[string]string{"doctor": "sad"}}, `side "doctor"`},
		{Review{Contact: "c", Labels: map[string]string{"patient": "furious"}}, "labels.patient"},
	} {
		err := tc.r.Check(causes)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.r, err, tc.want)
		}
	}
}

func TestAuditChainDetectsEdits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	a, err := OpenAudit(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range []string{"olga", "olga", "admin"} {
		if err := a.Append(AuditEntry{User: u, Role: "quality", Action: ActionPlay, Contact: "c" + string(rune('1'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	// Reopened, the chain continues.
	a, _ = OpenAudit(path)
	a.Append(AuditEntry{User: "olga", Role: "quality", Action: ActionExport, Contact: "c9"})
	got, err := a.Read()
	a.Close()
	if err != nil || len(got) != 4 || got[3].Action != ActionExport || got[0].User != "olga" {
		t.Fatalf("%v %+v", err, got)
	}
	// Someone removes the second line to hide an access.
	b, _ := os.ReadFile(path)
	lines := bytes.SplitAfter(b, []byte("\n"))
	os.WriteFile(path, append(append([]byte{}, lines[0]...), bytes.Join(lines[2:], nil)...), 0o600)
	a, _ = OpenAudit(path)
	got, err = a.Read()
	a.Close()
	if err == nil || !strings.Contains(err.Error(), "audit.jsonl:2:") || len(got) != 3 {
		t.Errorf("removed line: %v (%d entries)", err, len(got))
	}
	// Or edits who played a clip.
	os.WriteFile(path, bytes.Replace(b, []byte(`"user":"admin"`), []byte(`"user":"nobody"`), 1), 0o600)
	a, _ = OpenAudit(path)
	_, err = a.Read()
	a.Close()
	if err == nil || !strings.Contains(err.Error(), "audit.jsonl:4:") {
		t.Errorf("edited line 3: %v", err)
	}
}

func FuzzParseBody(f *testing.F) {
	for _, s := range []string{
		`{"reviewed":true,"causes":["waited"],"note":"x","labels":{"patient":"angry"}}`,
		`{"reviewed":false}`, `{}`, `{"causes":["noise"]}`, `{"labels":{"doctor":"sad"}}`, `{"x":1}`, `{} {}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	causes := []string{"waited", "rudeness"}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseBody(b, "c1", causes)
		if err != nil {
			return
		}
		// What is accepted is a valid review of that contact.
		if r.Contact != "c1" || r.Causes == nil || r.Check(causes) != nil {
			t.Fatalf("accepted %+v", r)
		}
		for _, e := range r.Labels {
			if e == "" {
				t.Fatalf("empty label kept: %+v", r)
			}
		}
	})
}
