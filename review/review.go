// Package review keeps what quality officers decide about contacts (reviewed
// or not, causes, a note, emotion labels) and the audit log of who played,
// downloaded or exported which clip. Both are append-only JSON Lines files in
// the server's state directory: a crash loses at most the line being written,
// and the history of every decision stays readable.
package review

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"
)

// Sides a reviewer can label.
const (
	SideEmployee = "employee"
	SidePatient  = "patient"
)

// Emotions a reviewer can label a side's speech with: the voice model's classes.
var Emotions = []string{"neutral", "happy", "sad", "angry"}

// Review is a quality officer's decision about one contact. The latest
// line for a contact wins.
type Review struct {
	Contact  string   `json:"contact"`
	Reviewed bool     `json:"reviewed"`
	Causes   []string `json:"causes"`
	Note     string   `json:"note,omitempty"`
	// Labels is the emotion the reviewer heard from each side (employee,
	// patient): the training corpus `contactd review corpus` writes.
	Labels map[string]string `json:"labels,omitempty"`
	By     string            `json:"by"`
	At     time.Time         `json:"at"`
}

// MaxNote bounds a review's note, in bytes.
const MaxNote = 4000

// Check names the first thing wrong with r, given the configured causes.
func (r *Review) Check(causes []string) error {
	if r.Contact == "" {
		return errors.New("contact: missing")
	}
	for _, c := range r.Causes {
		if !slices.Contains(causes, c) {
			return fmt.Errorf("causes: %q is not a configured cause", c)
		}
	}
	if len(r.Note) > MaxNote {
		return fmt.Errorf("note: %d bytes, at most %d", len(r.Note), MaxNote)
	}
	for side, e := range r.Labels {
		if side != SideEmployee && side != SidePatient {
			return fmt.Errorf("labels: side %q (want employee or patient)", side)
		}
		if e != "" && !slices.Contains(Emotions, e) {
			return fmt.Errorf("labels.%s: %q (want one of %v)", side, e, Emotions)
		}
	}
	return nil
}

// ParseBody reads a review as a client sends it ({"reviewed","causes",
// "note","labels"}; unknown fields refused) and checks it against causes.
func ParseBody(b []byte, contact string, causes []string) (Review, error) {
	var r Review
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var body struct {
		Reviewed bool              `json:"reviewed"`
		Causes   []string          `json:"causes"`
		Note     string            `json:"note"`
		Labels   map[string]string `json:"labels"`
	}
	if err := dec.Decode(&body); err != nil {
		return r, fmt.Errorf(`want {"reviewed","causes","note","labels"}: %w`, err)
	}
	if dec.More() {
		return r, errors.New("one JSON object only")
	}
	r = Review{Contact: contact, Reviewed: body.Reviewed, Causes: body.Causes, Note: body.Note, Labels: body.Labels}
	if r.Causes == nil {
		r.Causes = []string{}
	}
	for side, e := range r.Labels { // an empty label is no label
		if e == "" {
			delete(r.Labels, side)
		}
	}
	return r, r.Check(causes)
}

// Journal holds the reviews: every change appended to a file, the latest
// per contact in memory.
type Journal struct {
	mu   sync.Mutex
	f    *os.File
	last map[string]Review
}

// Open reads the journal at path (creating it). A line that does not parse
// (a crash mid-write) is logged with its line number and skipped; the
// lines after it still count.
func Open(path string, log *slog.Logger) (*Journal, error) {
	j := &Journal{last: map[string]Review{}}
	if b, err := os.Open(path); err == nil {
		sc := bufio.NewScanner(b)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for n := 1; sc.Scan(); n++ {
			var r Review
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.Contact == "" {
				if log != nil {
					log.Warn("review journal: line skipped", "file", path, "line", n, "error", err)
				}
				continue
			}
			j.last[r.Contact] = r
		}
		err := sc.Err()
		b.Close()
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
	j.f = f
	return j, nil
}

// Put appends a review and makes it the contact's current one. It returns
// once the line is on disk.
func (j *Journal) Put(r Review) error {
	if r.Causes == nil {
		r.Causes = []string{}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return err
	}
	if err := j.f.Sync(); err != nil {
		return err
	}
	j.last[r.Contact] = r
	return nil
}

// Get returns a contact's current review.
func (j *Journal) Get(contact string) (Review, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	r, ok := j.last[contact]
	return r, ok
}

// All returns every contact's current review.
func (j *Journal) All() map[string]Review {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make(map[string]Review, len(j.last))
	for k, v := range j.last {
		out[k] = v
	}
	return out
}

// Close closes the file.
func (j *Journal) Close() error { return j.f.Close() }
