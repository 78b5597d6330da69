package review

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Audit actions.
const (
	ActionPlay     = "play"
	ActionDownload = "download"
	ActionExport   = "export"
)

// AuditEntry is one access to a clip. Prev is the SHA-256 of the previous
// line, so an edited or removed line breaks the chain at that point.
type AuditEntry struct {
	At      time.Time `json:"at"`
	User    string    `json:"user"`
	Role    string    `json:"role"`
	Action  string    `json:"action"`
	Contact string    `json:"contact"`
	Clip    string    `json:"clip,omitempty"`
	Remote  string    `json:"remote,omitempty"`
	Prev    string    `json:"prev"`
}

// Audit is the append-only access log. The process only ever appends; the
// hash chain lets an auditor see whether anyone else changed the file.
type Audit struct {
	mu   sync.Mutex
	path string
	f    *os.File
	prev string
}

// OpenAudit opens (creating) the log at path and continues its chain.
func OpenAudit(path string) (*Audit, error) {
	a := &Audit{path: path, prev: chainStart}
	// A broken chain is the auditor's to see (Read reports it); logging goes on after it.
	_, last, err := readAudit(path)
	var broken *chainError
	if err != nil && !errors.Is(err, os.ErrNotExist) && !errors.As(err, &broken) {
		return nil, err
	}
	if last != "" {
		a.prev = last
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	a.f = f
	return a, nil
}

const chainStart = "0000000000000000000000000000000000000000000000000000000000000000"

// Append writes e (its time set if zero) and returns once it is on disk:
// the clip is served only after its access is recorded.
func (a *Audit) Append(e AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	e.Prev = a.prev
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := a.f.Write(append(b, '\n')); err != nil {
		return err
	}
	if err := a.f.Sync(); err != nil {
		return err
	}
	a.prev = lineHash(b)
	return nil
}

// Read returns every entry, oldest first, and an error naming the first
// line where the chain breaks (a line changed, inserted or removed).
func (a *Audit) Read() ([]AuditEntry, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	entries, _, err := readAudit(a.path)
	return entries, err
}

// chainError says where the log stops being what this process wrote.
type chainError struct{ msg string }

func (e *chainError) Error() string { return e.msg }

// Close closes the file.
func (a *Audit) Close() error { return a.f.Close() }

func lineHash(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// readAudit parses the log and checks its chain. It returns what it could
// read even when the chain is broken, so nothing recorded is hidden.
func readAudit(path string) ([]AuditEntry, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	var out []AuditEntry
	prev := chainStart
	var broken *chainError
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var e AuditEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			if broken == nil {
				broken = &chainError{fmt.Sprintf("%s:%d: not an audit entry: %v", path, n, err)}
			}
			prev = lineHash(sc.Bytes())
			continue
		}
		if e.Prev != prev && broken == nil {
			broken = &chainError{fmt.Sprintf("%s:%d: field prev does not match the line before: the log was altered here", path, n)}
		}
		prev = lineHash(sc.Bytes())
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return out, prev, fmt.Errorf("%s: %w", path, err)
	}
	if broken != nil {
		return out, prev, broken
	}
	if len(out) == 0 {
		prev = ""
	}
	return out, prev, nil
}
