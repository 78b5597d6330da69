// Package history keeps each employee's emotional background day by day
// (seconds of attributed speech, negative and positive seconds) so the
// monitor can draw the last 14 days, compare today with the employee's own
// baseline and warn early of emotional exhaustion without a Prometheus. The
// rules are those of deploy/prometheus/rules.yml, on daily figures.
package history

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync"
	"time"
)

// Day is one employee's speech on one calendar day (site timezone).
type Day struct {
	Employee string  `json:"employee"`
	Day      string  `json:"day"` // YYYY-MM-DD
	Speech   float64 `json:"speech_s"`
	Negative float64 `json:"negative_s"` // sad or angry
	Positive float64 `json:"positive_s"` // happy
	// Arousal and Valence are speech-weighted sums; divide by Speech.
	Arousal float64 `json:"arousal_sum"`
	Valence float64 `json:"valence_sum"`
	// FaceSeen: seconds the desk camera saw their face; Smile: of those, smiling.
	FaceSeen float64 `json:"face_seen_s,omitempty"`
	Smile    float64 `json:"smile_s,omitempty"`
}

// SmileShare is the share of the seconds their face was seen that it smiled.
func (d Day) SmileShare() float64 { return share(d.Smile, d.FaceSeen) }

// NegativeShare and PositiveShare are of the day's speech (0 without speech).
func (d Day) NegativeShare() float64 { return share(d.Negative, d.Speech) }
func (d Day) PositiveShare() float64 { return share(d.Positive, d.Speech) }

func share(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// Thresholds of the rules, as in deploy/prometheus/rules.yml.
const (
	// WorkingDay is the speech a day needs for its shares to count.
	WorkingDay = 600.0
	// AcuteSpeech is the speech today needs for the acute-strain warning.
	AcuteSpeech = 300.0
)

// Book is every employee's days, kept in a JSON Lines file of snapshots
// (the latest line for an employee and day wins).
type Book struct {
	mu    sync.Mutex
	f     *os.File
	days  map[string]map[string]*Day
	dirty map[*Day]bool
}

// Open reads the book at path, creating it; unreadable lines are logged
// with their number and skipped.
func Open(path string, log *slog.Logger) (*Book, error) {
	b := &Book{days: map[string]map[string]*Day{}, dirty: map[*Day]bool{}}
	if f, err := os.Open(path); err == nil {
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			var d Day
			if err := json.Unmarshal(sc.Bytes(), &d); err != nil || d.Employee == "" {
				if log != nil {
					log.Warn("history: line skipped", "file", path, "line", n, "error", err)
				}
				continue
			}
			if _, err := time.Parse(time.DateOnly, d.Day); err != nil {
				if log != nil {
					log.Warn("history: line skipped", "file", path, "line", n, "field", "day", "error", err)
				}
				continue
			}
			b.put(d)
		}
		err := sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	b.f = f
	return b, nil
}

func (b *Book) put(d Day) *Day {
	m := b.days[d.Employee]
	if m == nil {
		m = map[string]*Day{}
		b.days[d.Employee] = m
	}
	p := m[d.Day]
	if p == nil {
		p = &Day{Employee: d.Employee, Day: d.Day}
		m[d.Day] = p
	}
	*p = d
	return p
}

// Set replaces a whole day (imports, demos).
func (b *Book) Set(d Day) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dirty[b.put(d)] = true
}

// Add counts seconds of an employee's speech on a day.
func (b *Book) Add(employee, day string, speech, negative, positive, arousal, valence float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.days[employee]
	var d *Day
	if m != nil {
		d = m[day]
	}
	if d == nil {
		d = b.put(Day{Employee: employee, Day: day})
	}
	d.Speech += speech
	d.Negative += negative
	d.Positive += positive
	d.Arousal += arousal * speech
	d.Valence += valence * speech
	b.dirty[d] = true
}

// AddFace counts seconds of an employee's face seen, smiling or not.
func (b *Book) AddFace(employee, day string, seconds float64, smiled bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.days[employee]
	var d *Day
	if m != nil {
		d = m[day]
	}
	if d == nil {
		d = b.put(Day{Employee: employee, Day: day})
	}
	d.FaceSeen += seconds
	if smiled {
		d.Smile += seconds
	}
	b.dirty[d] = true
}

// Flush appends the days changed since the last flush.
func (b *Book) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var buf []byte
	for d := range b.dirty {
		line, _ := json.Marshal(d)
		buf = append(append(buf, line...), '\n')
	}
	if len(buf) == 0 {
		return nil
	}
	if _, err := b.f.Write(buf); err != nil {
		return err
	}
	clear(b.dirty)
	return b.f.Sync()
}

// Close flushes and closes the file.
func (b *Book) Close() error {
	err := b.Flush()
	if cerr := b.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Get returns an employee's day (zero if nothing was heard).
func (b *Book) Get(employee, day string) Day {
	b.mu.Lock()
	defer b.mu.Unlock()
	if d := b.days[employee][day]; d != nil {
		return *d
	}
	return Day{Employee: employee, Day: day}
}

// Series returns n days ending with day (inclusive), oldest first; days
// with nothing heard are zero.
func (b *Book) Series(employee, day string, n int) []Day {
	end, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return nil
	}
	out := make([]Day, n)
	for i := range out {
		out[i] = b.Get(employee, end.AddDate(0, 0, i-n+1).Format(time.DateOnly))
	}
	return out
}

// Baseline is an employee's usual negative and positive share: the mean
// over the working days among the 14 before the last 7 (a drift in the last
// week does not lift its own baseline). OK is false with fewer than 5.
type Baseline struct {
	NegativeShare float64 `json:"negative_share"`
	PositiveShare float64 `json:"positive_share"`
	Days          int     `json:"days"`
	OK            bool    `json:"-"`
}

// BaselineOf computes the baseline as of day.
func (b *Book) BaselineOf(employee, day string) Baseline {
	var bl Baseline
	for _, d := range b.Series(employee, day, 21)[:14] {
		if d.Speech >= WorkingDay {
			bl.NegativeShare += d.NegativeShare()
			bl.PositiveShare += d.PositiveShare()
			bl.Days++
		}
	}
	if bl.Days > 0 {
		bl.NegativeShare /= float64(bl.Days)
		bl.PositiveShare /= float64(bl.Days)
	}
	bl.OK = bl.Days >= 5
	return bl
}

// Warning names.
const (
	// Exhaustion: over the last 7 days (at least 5 working), negative share
	// on average 10 points above baseline and rising, positive 10 below and falling.
	Exhaustion = "ContactdEmotionalExhaustionRisk"
	// Acute: today the negative share is 25 points above baseline, with 5 min of speech.
	Acute = "ContactdAcuteStrain"
)

// Warnings returns the warnings that hold for an employee as of day.
func (b *Book) Warnings(employee, day string) []string {
	out := []string{}
	bl := b.BaselineOf(employee, day)
	if !bl.OK {
		return out
	}
	var xs, neg, pos []float64
	for i, d := range b.Series(employee, day, 7) {
		if d.Speech >= WorkingDay {
			xs = append(xs, float64(i))
			neg = append(neg, d.NegativeShare())
			pos = append(pos, d.PositiveShare())
		}
	}
	if len(xs) >= 5 && mean(neg)-bl.NegativeShare > 0.10 && mean(pos)-bl.PositiveShare < -0.10 &&
		slope(xs, neg) > 0 && slope(xs, pos) < 0 {
		out = append(out, Exhaustion)
	}
	if t := b.Get(employee, day); t.Speech >= AcuteSpeech && t.NegativeShare()-bl.NegativeShare > 0.25 {
		out = append(out, Acute)
	}
	return out
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// slope is the least-squares slope of y over x.
func slope(x, y []float64) float64 {
	mx, my := mean(x), mean(y)
	var num, den float64
	for i := range x {
		num += (x[i] - mx) * (y[i] - my)
		den += (x[i] - mx) * (x[i] - mx)
	}
	if den == 0 {
		return math.NaN()
	}
	return num / den
}
