// Package limit is a keyed token bucket: each key (a station) may do Rate
// things a second on average, Burst at once. Callers refuse what it refuses
// with a clear error; nothing is queued.
package limit

import (
	"sync"
	"time"
)

// Buckets holds one bucket per key.
type Buckets struct {
	Rate  float64 // per second
	Burst float64
	Now   func() time.Time // nil: time.Now

	mu sync.Mutex
	b  map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// Allow takes one token from key's bucket; if there is none it says how long
// until there is.
func (l *Buckets) Allow(key string) (bool, time.Duration) {
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b == nil {
		l.b = map[string]*bucket{}
	}
	b := l.b[key]
	if b == nil {
		b = &bucket{tokens: l.Burst, last: now}
		l.b[key] = b
	}
	b.tokens = min(l.Burst, b.tokens+now.Sub(b.last).Seconds()*l.Rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.Rate * float64(time.Second))
}
