package capture

import (
	"path/filepath"
	"testing"
)

// TestOutboxKeepsRateLimited: a message the server did not take for now
// (its rate limit: retry) stays pending and goes again; an answered one,
// accepted or refused, is done.
func TestOutboxKeepsRateLimited(t *testing.T) {
	o, err := openOutbox(filepath.Join(t.TempDir(), "outbox.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer o.close()
	for range 3 {
		if err := o.add(map[string]any{"type": "arrive"}); err != nil {
			t.Fatal(err)
		}
	}
	o.reply([]byte(`{"id":1,"error":"rate limit: over 20 messages a second","retry":true}`))
	o.reply([]byte(`{"id":2,"ok":true}`))
	o.reply([]byte(`{"id":3,"error":"field \"at\": missing"}`))
	if n := o.len(); n != 1 {
		t.Fatalf("%d pending, want 1 (the rate-limited one)", n)
	}
	if _, ok := o.pending[1]; !ok {
		t.Error("the rate-limited message was dropped")
	}
}
