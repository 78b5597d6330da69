package emotion

import (
	"strings"
	"testing"
)

func TestParseLabels(t *testing.T) {
	items, err := ParseLabels(strings.NewReader("file,actor,emotion\na.ogg,1,calm\nb.ogg,2,Fear\n\nc.ogg,2,surprised\n"), "labels.csv", "/x/ravdess")
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 3 || items[0].Class != 0 || items[0].Speaker != "ravdess/1" || items[1].Emotion != "fearful" ||
		items[1].Arousal != 1 || items[1].Valence != 0 || items[2].Class != -1 || items[2].Valence != 1 || items[0].Path != "/x/ravdess/a.ogg" {
		t.Fatalf("%+v", items)
	}
	for _, tc := range []struct{ in, want string }{
		{"", "empty"},
		{"name,emotion\n", "lacks the column file"},
		{"file,emotion\na.ogg,ecstatic\n", "labels.csv:2: field emotion: unknown emotion"},
		{"file,emotion\na.ogg,happy\nb.ogg,\n", "labels.csv:3: field emotion is missing"},
		{"file,emotion,speaker\na.ogg,happy\n", "labels.csv:2: field speaker is missing"},
		{"file,emotion\n../../etc/passwd,happy\n", "must be a path inside"},
		{"file,emotion\n", "no recordings"},
	} {
		_, err := ParseLabels(strings.NewReader(tc.in), "labels.csv", "/c")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.in, err, tc.want)
		}
	}
}

func FuzzParseLabels(f *testing.F) {
	f.Add("file,actor,emotion\na.ogg,1,calm\n")
	f.Add("file,emotion\n\"a,b\",happy\n")
	f.Fuzz(func(t *testing.T, s string) {
		items, err := ParseLabels(strings.NewReader(s), "l.csv", "/c")
		if err == nil && len(items) == 0 {
			t.Fatal("no error and no items")
		}
		for _, it := range items {
			if it.Class < -1 || it.Class >= len(Classes) {
				t.Fatalf("class %d", it.Class)
			}
		}
	})
}
