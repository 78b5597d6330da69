// Package shifts says which employee works at a station at a given time:
// one-off shifts posted through the API, then the weekly shifts of the
// configuration, then the station's own employee. The employees it can
// name are those of the configuration, so metrics labels stay bounded.
package shifts

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"contactd/config"
)

// Posted is a one-off shift (a substitution, an extra hour).
type Posted struct {
	Station  string    `json:"station"`
	Employee string    `json:"employee"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
}

type weekly struct {
	station, employee string
	days              []time.Weekday // empty: every day
	from, to          int            // minutes after midnight; to < from crosses midnight
}

// Rota answers who is on shift. It is safe for concurrent use.
type Rota struct {
	loc       *time.Location
	defaults  map[string]string
	weekly    []weekly
	employees []string
	path      string

	mu     sync.Mutex
	posted []Posted
}

// New builds the rota of a configuration; posted shifts are kept in path
// (JSON Lines) so a restart keeps them. A malformed line there is an error
// naming it.
func New(cfg *config.Config, path string) (*Rota, error) {
	loc, err := time.LoadLocation(cfg.Timezone)
	if err != nil {
		return nil, err
	}
	r := &Rota{loc: loc, defaults: map[string]string{}, employees: cfg.Employees(), path: path}
	for _, st := range cfg.Stations {
		r.defaults[st.ID] = st.Employee
	}
	for _, sh := range cfg.Shifts {
		w := weekly{station: sh.Station, employee: sh.Employee}
		w.from, _ = config.ParseClock(sh.From)
		w.to, _ = config.ParseClock(sh.To)
		for _, d := range sh.Days {
			w.days = append(w.days, time.Weekday(slices.Index(config.Weekdays, d)))
		}
		r.weekly = append(r.weekly, w)
	}
	if path != "" {
		f, err := os.Open(path)
		if err == nil {
			defer f.Close()
			r.posted, err = readPosted(f, path)
			if err != nil {
				return nil, err
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	return r, nil
}

func readPosted(rd io.Reader, name string) ([]Posted, error) {
	var out []Posted
	sc := bufio.NewScanner(rd)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var p Posted
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		out = append(out, p)
	}
	return out, sc.Err()
}

// Employees are the employees the rota can name.
func (r *Rota) Employees() []string { return r.employees }

// EmployeeAt names the employee on shift at station at t ("" if nobody).
func (r *Rota) EmployeeAt(station string, t time.Time) string {
	r.mu.Lock()
	for i := len(r.posted) - 1; i >= 0; i-- { // the latest posted wins
		p := r.posted[i]
		if p.Station == station && !t.Before(p.Start) && t.Before(p.End) {
			r.mu.Unlock()
			return p.Employee
		}
	}
	r.mu.Unlock()
	local := t.In(r.loc)
	minute := local.Hour()*60 + local.Minute()
	for _, w := range r.weekly {
		if w.station != station {
			continue
		}
		day := local.Weekday()
		in := false
		if w.from < w.to {
			in = minute >= w.from && minute < w.to
		} else if minute >= w.from { // crosses midnight: the evening part
			in = true
		} else if minute < w.to { // the morning part belongs to yesterday's shift
			in, day = true, (day+6)%7
		}
		if in && (len(w.days) == 0 || slices.Contains(w.days, day)) {
			return w.employee
		}
	}
	return r.defaults[station]
}

// Post adds a one-off shift after checking it names a configured station
// and employee and a sensible time range, and keeps it on disk.
func (r *Rota) Post(p Posted) error {
	if _, ok := r.defaults[p.Station]; !ok {
		return fmt.Errorf("station %q is not configured", p.Station)
	}
	if !slices.Contains(r.employees, p.Employee) {
		return fmt.Errorf("employee %q is not in the configuration (stations[].employee or shifts[].employee)", p.Employee)
	}
	if !p.End.After(p.Start) || p.End.Sub(p.Start) > 24*time.Hour {
		return fmt.Errorf("shift %s–%s: end must be after start, at most 24 h later", p.Start.Format(time.RFC3339), p.End.Format(time.RFC3339))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.path != "" {
		f, err := os.OpenFile(r.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(p)
		_, err = f.Write(append(b, '\n'))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	r.posted = append(r.posted, p)
	return nil
}
