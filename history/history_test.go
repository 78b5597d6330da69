package history

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// fill writes 21 days for an employee: negShare/posShare per day index
// (0 = 20 days before today, 20 = today), 1200 s of speech a day.
func fill(b *Book, employee string, today time.Time, share func(i int) (neg, pos float64)) {
	for i := 0; i < 21; i++ {
		n, p := share(i)
		b.Set(Day{Employee: employee, Day: today.AddDate(0, 0, i-20).Format(time.DateOnly), Speech: 1200, Negative: 1200 * n, Positive: 1200 * p})
	}
}

func TestWarnings(t *testing.T) {
	today := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	day := today.Format(time.DateOnly)
	b, err := Open(filepath.Join(t.TempDir(), "h.jsonl"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	steady := func(i int) (float64, float64) { return 0.10 + 0.01*float64(i%3), 0.30 }
	drifting := func(i int) (float64, float64) {
		if i < 14 {
			return steady(i)
		}
		k := float64(i - 13) // the last 7 days: more negative, less positive, day by day
		return 0.12 + 0.04*k, 0.30 - 0.04*k
	}
	hardWeek := func(i int) (float64, float64) { // more negative, but not less positive
		if i < 14 {
			return steady(i)
		}
		return 0.12 + 0.04*float64(i-13), 0.30
	}
	fill(b, "anna", today, steady)
	fill(b, "boris", today, drifting)
	fill(b, "vera", today, hardWeek)
	if w := b.Warnings("anna", day); len(w) != 0 {
		t.Errorf("steady anna: %v", w)
	}
	if w := b.Warnings("boris", day); !slices.Contains(w, Exhaustion) || !slices.Contains(w, Acute) {
		t.Errorf("drifting boris: %v (baseline %+v)", w, b.BaselineOf("boris", day))
	}
	if w := b.Warnings("vera", day); slices.Contains(w, Exhaustion) {
		t.Errorf("vera's hard week is not exhaustion: %v", w)
	}
	// Too few working days: no baseline, no warning.
	if w := b.Warnings("nobody", day); len(w) != 0 {
		t.Errorf("nobody: %v", w)
	}
	bl := b.BaselineOf("boris", day)
	if !bl.OK || bl.Days != 14 || math.Abs(bl.PositiveShare-0.30) > 1e-9 {
		t.Errorf("baseline %+v", bl)
	}
}

func TestBookPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	b, _ := Open(path, nil)
	b.Add("anna", "2026-11-24", 10, 2, 5, 0.5, 0.2)
	b.Add("anna", "2026-11-25", 4, 1, 0, 0.1, -0.5)
	b.Flush()
	b.Add("anna", "2026-11-25", 6, 0, 3, 0.1, 0.5)
	b.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("{\"employee\":\"anna\",\"day\":\"2026-11-2\n") // torn by a crash
	f.Close()
	b, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	d := b.Get("anna", "2026-11-25")
	if d.Speech != 10 || d.Negative != 1 || d.Positive != 3 || d.PositiveShare() != 0.3 {
		t.Errorf("today %+v", d)
	}
	s := b.Series("anna", "2026-11-25", 3)
	if len(s) != 3 || s[0].Speech != 0 || s[1].Speech != 10 || s[2].Day != "2026-11-25" {
		t.Errorf("series %+v", s)
	}
}
