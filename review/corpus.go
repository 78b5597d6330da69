package review

import (
	"context"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"contactd/classifier/audio"
	"contactd/contact"
	"contactd/storage"
)

// CorpusRate is the sample rate of the corpus recordings.
const CorpusRate = 16000

// CorpusStats says what WriteCorpus wrote and skipped.
type CorpusStats struct {
	Recordings int
	Seconds    float64
	Skipped    []string // contact: why
}

// WriteCorpus turns the reviewers' emotion labels into a training corpus for
// `contactd emotion train`: for each labelled side of a contact, the seconds
// that side spoke (from the contact's voice timeline) cut from its clip into
// one WAV, and dir/labels.csv with file, emotion and speaker (the employee's
// id; each patient is their own speaker, so a speaker-independent split never
// puts one patient on both sides). progress, if set, is called per contact.
func WriteCorpus(ctx context.Context, arc *storage.Archive, reviews map[string]Review, dir string, progress func(done, total int)) (*CorpusStats, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	ix, err := arc.LoadIndex(ctx)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	byID := map[string]storage.Entry{}
	for _, e := range ix.Contacts {
		byID[e.ID] = e
	}
	var ids []string
	for id, r := range reviews {
		if len(r.Labels) > 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	f, err := os.Create(filepath.Join(dir, "labels.csv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	w := csv.NewWriter(f)
	w.Write([]string{"file", "emotion", "speaker", "contact", "labelled_by"})
	st := &CorpusStats{}
	for n, id := range ids {
		if progress != nil {
			progress(n, len(ids))
		}
		if err := ctx.Err(); err != nil {
			return st, err
		}
		e, ok := byID[id]
		if !ok || e.Clip == "" {
			st.Skipped = append(st.Skipped, id+": no clip in the store")
			continue
		}
		sc, err := arc.ReadSidecar(ctx, storage.SidecarKey(e.Clip))
		if err != nil {
			st.Skipped = append(st.Skipped, fmt.Sprintf("%s: sidecar: %v", id, err))
			continue
		}
		if sc.Voice == nil {
			st.Skipped = append(st.Skipped, id+": no voice timeline (recorded before the voice path)")
			continue
		}
		clip, err := fetch(ctx, arc, e.Clip)
		if err != nil {
			st.Skipped = append(st.Skipped, fmt.Sprintf("%s: clip: %v", id, err))
			continue
		}
		x, err := audio.DecodeFile(clip, CorpusRate)
		os.Remove(clip)
		if err != nil {
			st.Skipped = append(st.Skipped, fmt.Sprintf("%s: clip audio: %v", id, err))
			continue
		}
		r := reviews[id]
		for _, side := range []string{SideEmployee, SidePatient} {
			emo := r.Labels[side]
			if emo == "" {
				continue
			}
			var tl []contact.VoiceSecond
			speaker := sc.Employee
			if side == SideEmployee && sc.Voice.Employee != nil {
				tl = sc.Voice.Employee.Timeline
			}
			if side == SidePatient {
				speaker = "patient-" + id
				if sc.Voice.Patient != nil {
					tl = sc.Voice.Patient.Timeline
				}
			}
			if speaker == "" {
				speaker = "employee-" + sc.Station
			}
			y := speechOf(x, tl, sc.ClipStart)
			if len(y) < CorpusRate {
				st.Skipped = append(st.Skipped, fmt.Sprintf("%s: %s spoke under a second", id, side))
				continue
			}
			name := id + "-" + side + ".wav"
			if err := writeWAV(filepath.Join(dir, name), y); err != nil {
				return st, err
			}
			w.Write([]string{name, emo, speaker, id, r.By})
			st.Recordings++
			st.Seconds += float64(len(y)) / CorpusRate
		}
	}
	if progress != nil {
		progress(len(ids), len(ids))
	}
	w.Flush()
	return st, w.Error()
}

// speechOf concatenates the seconds of x (which starts at start) in which
// the timeline heard speech.
func speechOf(x []float32, tl []contact.VoiceSecond, start time.Time) []float32 {
	var y []float32
	for _, s := range tl {
		if s.Speech < 0.5 {
			continue
		}
		a := int(s.At.Sub(start).Seconds() * CorpusRate)
		b := a + CorpusRate
		a, b = max(a, 0), min(b, len(x))
		if a < b {
			y = append(y, x[a:b]...)
		}
	}
	return y
}

func fetch(ctx context.Context, arc *storage.Archive, key string) (string, error) {
	rc, err := arc.Store.Get(ctx, key)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	f, err := os.CreateTemp("", "contactd-clip-*"+filepath.Ext(key))
	if err != nil {
		return "", err
	}
	_, err = f.ReadFrom(rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// writeWAV writes 16-bit mono PCM.
func writeWAV(path string, x []float32) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	n := uint32(len(x) * 2)
	hdr := []any{[]byte("RIFF"), 36 + n, []byte("WAVEfmt "), uint32(16), uint16(1), uint16(1), uint32(CorpusRate), uint32(CorpusRate * 2),
		uint16(2), uint16(16), []byte("data"), n}
	for _, v := range hdr {
		binary.Write(f, binary.LittleEndian, v)
	}
	pcm := make([]int16, len(x))
	for i, v := range x {
		pcm[i] = int16(math.Round(float64(max(-1, min(1, v))) * 32767))
	}
	if err := binary.Write(f, binary.LittleEndian, pcm); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
