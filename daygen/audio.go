package daygen

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// Rate is the sample rate the day is mixed at before encoding.
const Rate = 16000

// snippet is one utterance, decoded to mono int16 at Rate.
type snippet struct {
	pcm  []int16
	gain float64
}

func (s snippet) dur() time.Duration { return time.Duration(len(s.pcm)) * time.Second / Rate }

// decode turns any audio file (or stdin bytes) into mono int16 at Rate with the ffmpeg CLI.
func decode(ctx context.Context, path string) ([]int16, error) {
	cmd := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-i", path, "-ac", "1", "-ar", fmt.Sprint(Rate), "-f", "s16le", "-")
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("decoding %s: %w", path, err)
	}
	pcm := make([]int16, len(b)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return pcm, nil
}

// speak renders text with espeak-ng.
func speak(ctx context.Context, dir, voice string, speed int, text string, n int) ([]int16, error) {
	wav := filepath.Join(dir, fmt.Sprintf("tts-%d.wav", n))
	if out, err := exec.CommandContext(ctx, "espeak-ng", "-v", voice, "-s", fmt.Sprint(speed), "-w", wav, text).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("espeak-ng: %v: %s", err, out)
	}
	defer os.Remove(wav)
	return decode(ctx, wav)
}

var adminLines = []string{
	"Good morning, how can I help you?",
	"Do you have an appointment today?",
	"May I see your insurance card, please?",
	"Doctor Smith is running about ten minutes late.",
	"Please take a seat, we will call you shortly.",
	"Your appointment is at eleven thirty, room four.",
	"The consultation costs fifty euros.",
	"Could you spell your last name for me?",
	"Please fill in this form and bring it back.",
	"I am sorry, the lab results are not ready yet.",
	"Is your phone number still the same?",
	"Thank you, have a nice day.",
}

var phoneLines = []string{
	"Clinic reception, good afternoon.",
	"Yes, we are open until seven tonight.",
	"Let me check the schedule for Thursday.",
	"I will call you back in a few minutes.",
}

var patientLines = []string{
	"I have been waiting for forty minutes already.",
	"I would like to book a blood test.",
	"My daughter has a fever since yesterday.",
	"Why is it so expensive?",
	"Thank you very much, that is very kind.",
	"I don't understand what I have to do.",
}

// voices holds the speech material of a day.
type voices struct {
	admin, phone []snippet
	// patient clips by mood: real emotional speech when the datasets are there.
	patient map[Mood][]snippet
}

// loadVoices renders the administrator with espeak-ng and takes patients
// from RAVDESS (by emotion) when datasets is a directory holding it, and
// from other espeak-ng voices otherwise.
func loadVoices(ctx context.Context, datasets, work string, actors []int, r *rand.Rand) (*voices, error) {
	v := &voices{patient: map[Mood][]snippet{}}
	n := 0
	for _, l := range adminLines {
		pcm, err := speak(ctx, work, "en-us+f3", 150, l, n)
		if err != nil {
			return nil, err
		}
		n++
		v.admin = append(v.admin, snippet{pcm: pcm, gain: 0.9})
	}
	for _, l := range phoneLines {
		pcm, err := speak(ctx, work, "en-us+f3", 160, l, n)
		if err != nil {
			return nil, err
		}
		n++
		v.phone = append(v.phone, snippet{pcm: pcm, gain: 0.8})
	}
	if datasets != "" { // Generate checked it holds the corpus
		return v, loadRAVDESS(ctx, v, filepath.Join(datasets, "ravdess", "labels.csv"), actors, r)
	}
	for i, l := range patientLines {
		for j, voice := range []string{"en-gb+m3", "en-us+m1", "en+f2"} {
			pcm, err := speak(ctx, work, voice, 140+10*j, l, n)
			if err != nil {
				return nil, err
			}
			n++
			mood := Pleased
			if i < 4 && i != 1 {
				mood = Upset
			}
			v.patient[mood] = append(v.patient[mood], snippet{pcm: pcm, gain: 0.7})
			v.patient[Indifferent] = append(v.patient[Indifferent], snippet{pcm: pcm, gain: 0.7})
		}
	}
	return v, nil
}

// loadRAVDESS picks a spread of actors and emotions: upset patients sound
// angry or sad, pleased ones happy, the rest neutral or calm.
func loadRAVDESS(ctx context.Context, v *voices, labels string, actors []int, r *rand.Rand) error {
	f, err := os.Open(labels)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return fmt.Errorf("%s: %w", labels, err)
	}
	byMood := map[Mood][]string{}
	emotionOf := map[string]string{}
	for _, row := range rows[1:] {
		if len(row) < 4 {
			continue
		}
		p := filepath.Join(filepath.Dir(labels), row[0])
		if n, err := strconv.Atoi(row[1]); len(actors) > 0 && (err != nil || !slices.Contains(actors, n)) {
			continue
		}
		switch row[3] {
		case "angry", "sad":
			byMood[Upset] = append(byMood[Upset], p)
		case "happy":
			byMood[Pleased] = append(byMood[Pleased], p)
		case "neutral", "calm":
			byMood[Indifferent] = append(byMood[Indifferent], p)
		}
		emotionOf[p] = row[3]
	}
	for _, m := range []Mood{Pleased, Upset, Indifferent} {
		files := byMood[m]
		if len(files) == 0 {
			return fmt.Errorf("%s: no clips for mood %d", labels, m)
		}
		r.Shuffle(len(files), func(i, j int) { files[i], files[j] = files[j], files[i] })
		for _, p := range files[:min(16, len(files))] {
			pcm, err := decode(ctx, p)
			if err != nil {
				return err
			}
			v.patient[m] = append(v.patient[m], snippet{pcm: levelled(pcm, emotionOf[p]), gain: 1})
		}
	}
	return nil
}

// placement is a snippet at an offset.
type placement struct {
	at int // sample offset
	s  snippet
}

// placeSpeech fills every visit with a conversation (administrator and
// patient taking turns) and every phone call with the administrator alone.
func (sc *Scenario) placeSpeech(v *voices, r *rand.Rand, chatter bool) []placement {
	var out []placement
	fill := func(from, to time.Duration, pick func(turn int) snippet) {
		t := from
		for turn := 0; ; turn++ {
			s := pick(turn)
			if t+s.dur() > to {
				return
			}
			out = append(out, placement{at: int(t * Rate / time.Second), s: s})
			t += s.dur() + uniform(r, 0.3, 1.5)
		}
	}
	for _, vis := range sc.Visits {
		pat := v.patient[vis.Mood]
		// Some patients stay silent for a while: the administrator speaks
		// two or three times in a row (a greeting and a question before the
		// patient answers, or explaining a form).
		seq := []bool{false} // true: the patient's turn
		extra, at := 0, -1
		if r.Float64() < 0.3 {
			extra, at = 1+r.IntN(2), 1+2*r.IntN(3)
		}
		for len(seq) < 200 {
			if len(seq) == at {
				for range extra {
					seq = append(seq, false)
				}
			}
			seq = append(seq, !seq[len(seq)-1])
		}
		// The conversation lasts while the patient is there (a sensor that
		// missed the leave changes nothing of what was said).
		fill(vis.Arrive+uniform(r, 1, 3), vis.Leave-time.Second, func(turn int) snippet {
			if seq[min(turn, len(seq)-1)] {
				return pat[r.IntN(len(pat))]
			}
			return v.admin[r.IntN(len(v.admin))]
		})
	}
	if chatter {
		// The waiting area: other people's voices, 20 dB under a patient at
		// the desk, in bursts of a few sentences every minute or two.
		var all []snippet
		for _, m := range []Mood{Pleased, Upset, Indifferent} {
			all = append(all, v.patient[m]...)
		}
		for t := uniform(r, 10, 60); t < sc.Length-30*time.Second; t += uniform(r, 40, 120) {
			at := t
			for range 2 + r.IntN(3) {
				c := all[r.IntN(len(all))]
				out = append(out, placement{at: int(at * Rate / time.Second), s: snippet{pcm: c.pcm, gain: c.gain * 0.1}})
				at += c.dur() + uniform(r, 0.3, 1.5)
			}
		}
	}
	for _, p := range sc.Phone {
		fill(p[0], p[1], func(int) snippet { return v.phone[r.IntN(len(v.phone))] })
	}
	slices.SortFunc(out, func(a, b placement) int { return a.at - b.at })
	return out
}

// writeMix streams the day as raw s16le mono at Rate: room noise (a soft
// pink-ish hiss with a slow hum) under the placed speech.
func writeMix(w io.Writer, length time.Duration, ps []placement, r *rand.Rand, progress func(done, total int)) error {
	total := int(length * Rate / time.Second)
	bw := bufio.NewWriterSize(w, 1<<16)
	buf := make([]float64, Rate)
	out := make([]byte, 2*Rate)
	var b0, b1, b2 float64 // pink noise filter state (Kellet's economy filter)
	next := 0              // first placement that may still overlap
	for off := 0; off < total; off += Rate {
		n := min(Rate, total-off)
		for i := 0; i < n; i++ {
			white := r.NormFloat64()
			b0 = 0.99765*b0 + white*0.0990460
			b1 = 0.96300*b1 + white*0.2965164
			b2 = 0.57000*b2 + white*1.0526913
			pink := (b0 + b1 + b2 + white*0.1848) * 0.05
			hum := 0.3 * math.Sin(2*math.Pi*50*float64(off+i)/Rate)
			buf[i] = (pink + hum) * 0.004 // about -50 dBFS of room tone
		}
		for next < len(ps) && ps[next].at+len(ps[next].s.pcm) <= off {
			next++
		}
		for _, p := range ps[next:] {
			if p.at >= off+n {
				break
			}
			for i := max(p.at, off); i < min(p.at+len(p.s.pcm), off+n); i++ {
				buf[i-off] += float64(p.s.pcm[i-p.at]) / 32768 * p.s.gain
			}
		}
		for i := 0; i < n; i++ {
			v := max(-1, min(1, buf[i]))
			binary.LittleEndian.PutUint16(out[2*i:], uint16(int16(v*32767)))
		}
		if _, err := bw.Write(out[:2*n]); err != nil {
			return err
		}
		if progress != nil {
			progress(off+n, total)
		}
	}
	return bw.Flush()
}

// moodLevel is how much louder (dB) than the usual speech level a patient
// at the desk speaks in an emotion. The corpus's recordings span 25 dB
// between its whispered sad and shouted angry takes; a patient standing
// at a desk does not: they are levelled, keeping a few dB of the emotion.
var moodLevel = map[string]float64{"angry": 4, "happy": 2, "sad": -3}

// levelled trims a recording to its speech and brings it to the level a
// patient at the desk reaches the microphone at.
func levelled(pcm []int16, emotion string) []int16 {
	x := make([]float32, len(pcm))
	for i, v := range pcm {
		x[i] = float32(v) / 32768
	}
	x = Level(Trim(x), SpeechDB+moodLevel[emotion])
	out := make([]int16, len(x))
	for i, v := range x {
		out[i] = int16(max(-1, min(1, v)) * 32767)
	}
	return out
}
