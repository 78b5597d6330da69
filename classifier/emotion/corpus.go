// Package emotion is the voice emotion model: per-speaker normalised
// acoustic functionals (classifier/features) into a small neural network
// with a 4-class head (neutral, happy, sad, angry) and arousal and valence
// heads, trained and evaluated speaker-independently in Go.
package emotion

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Classes are the four emotion classes, in the order of the model's output.
var Classes = []string{"neutral", "happy", "sad", "angry"}

// Label is what a corpus says of one recording.
type Label struct {
	Emotion string
	Class   int // index in Classes, -1 for emotions outside the four
	Arousal int // 1 high, 0 low, -1 not defined for this emotion
	Valence int // 1 positive, 0 negative, -1 not defined
}

// ParseEmotion maps a corpus emotion label to the model's targets. Calm
// counts as neutral; arousal and valence follow the usual circumplex
// placement of the categories.
func ParseEmotion(s string) (Label, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	switch e {
	case "fear":
		e = "fearful"
	case "surprise", "ps", "pleasant_surprise":
		e = "surprised"
	case "disgusted":
		e = "disgust"
	case "anger":
		e = "angry"
	case "happiness":
		e = "happy"
	case "sadness":
		e = "sad"
	case "boredom":
		e = "bored"
	}
	l := Label{Emotion: e, Class: -1, Arousal: -1, Valence: -1}
	switch e {
	case "neutral", "calm":
		l.Class = 0
	case "happy":
		l.Class = 1
	case "sad":
		l.Class = 2
	case "angry":
		l.Class = 3
	case "fearful", "disgust", "surprised", "bored":
	default:
		return l, fmt.Errorf("unknown emotion %q (want neutral, calm, happy, sad, angry, fearful, disgust, surprised or bored)", s)
	}
	switch e {
	case "angry", "happy", "fearful", "surprised":
		l.Arousal = 1
	case "neutral", "calm", "sad", "bored":
		l.Arousal = 0
	}
	switch e {
	case "happy", "calm", "surprised":
		l.Valence = 1
	case "angry", "sad", "fearful", "disgust", "bored":
		l.Valence = 0
	}
	return l, nil
}

// Item is one labelled recording of a corpus.
type Item struct {
	Path    string
	Speaker string // corpus-qualified; "" when the corpus has no speaker column
	Label
}

// LoadCorpus reads DIR/labels.csv: a header with at least `file` and
// `emotion`, and optionally `speaker` or `actor`. Errors name the file,
// line and column. Speakers are prefixed with the corpus directory's name
// so that two corpora never share one.
func LoadCorpus(dir string) ([]Item, error) {
	path := filepath.Join(dir, "labels.csv")
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseLabels(f, path, dir)
}

// ParseLabels parses a labels.csv stream (name is for errors; dir is where
// the files are).
func ParseLabels(r io.Reader, name, dir string) ([]Item, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty (want a header with file and emotion)", name)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	fileCol, ok1 := col["file"]
	emoCol, ok2 := col["emotion"]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%s:1: header %q lacks the column file or emotion", name, strings.Join(header, ","))
	}
	spkCol, hasSpk := col["speaker"]
	if !hasSpk {
		spkCol, hasSpk = col["actor"]
	}
	corpus := filepath.Base(filepath.Clean(dir))
	var items []Item
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil { // a csv.ParseError names the line and column
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		field := func(i int, what string) (string, error) {
			if i >= len(rec) || strings.TrimSpace(rec[i]) == "" {
				return "", fmt.Errorf("%s:%d: field %s is missing", name, line, what)
			}
			return strings.TrimSpace(rec[i]), nil
		}
		file, err := field(fileCol, "file")
		if err != nil {
			return nil, err
		}
		if filepath.IsAbs(file) || strings.Contains(file, "..") {
			return nil, fmt.Errorf("%s:%d: field file: %q must be a path inside the corpus", name, line, file)
		}
		emo, err := field(emoCol, "emotion")
		if err != nil {
			return nil, err
		}
		l, err := ParseEmotion(emo)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: field emotion: %w", name, line, err)
		}
		it := Item{Path: filepath.Join(dir, file), Label: l}
		if hasSpk {
			s, err := field(spkCol, header[spkCol])
			if err != nil {
				return nil, err
			}
			it.Speaker = corpus + "/" + s
		}
		items = append(items, it)
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("%s: no recordings listed", name)
	}
	return items, nil
}
