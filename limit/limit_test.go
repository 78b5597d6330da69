package limit

import (
	"testing"
	"time"
)

func TestBuckets(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	l := &Buckets{Rate: 2, Burst: 3, Now: func() time.Time { return now }}
	for i := range 3 {
		if ok, _ := l.Allow("desk-1"); !ok {
			t.Fatalf("burst: refused at %d", i)
		}
	}
	ok, wait := l.Allow("desk-1")
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("over the burst: %v, wait %v (want refused, 500ms)", ok, wait)
	}
	if ok, _ := l.Allow("desk-2"); !ok {
		t.Error("another key shares the bucket")
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := l.Allow("desk-1"); !ok {
		t.Error("refilled token refused")
	}
	if ok, _ := l.Allow("desk-1"); ok {
		t.Error("more than the rate allowed")
	}
	now = now.Add(time.Hour)
	for i := range 3 {
		if ok, _ := l.Allow("desk-1"); !ok {
			t.Fatalf("after an idle hour the burst is back: refused at %d", i)
		}
	}
	if ok, _ := l.Allow("desk-1"); ok {
		t.Error("the bucket holds more than its burst")
	}
}
