package speaker

import (
	"math/rand/v2"

	"contactd/classifier/features"
	"contactd/classifier/vad"
)

// Attributor decides, segment by segment, whether speech is the enrolled
// employee's.
type Attributor struct {
	Background *Background
	Employee   *Voice
	// Threshold on the log-likelihood ratio (0: equal evidence).
	Threshold float64
}

// Attribution of one segment.
type Attribution struct {
	Start, End int     // frames
	Score      float64 // log-likelihood ratio per frame
	Employee   bool
}

// Attribute scores each segment's speech frames.
func (at *Attributor) Attribute(a *features.Analysis, mask []bool, segs [][2]int) []Attribution {
	var out []Attribution
	for _, s := range segs {
		fr := Frames(a, mask, s[0], s[1])
		sc, err := at.Background.Score(at.Employee, fr)
		if err != nil {
			continue
		}
		out = append(out, Attribution{Start: s[0], End: s[1], Score: sc, Employee: sc > at.Threshold})
	}
	return out
}

// DialogueResult is how one mixed dialogue was attributed.
type DialogueResult struct {
	Employee, Other string
	EnrolSeconds    float64
	Segments        int
	SegmentsCorrect int
	Frames          int // speech frames in found segments with a known speaker
	FramesCorrect   int
}

// EvalDialogue enrols the employee on enrol (recordings, 16 kHz, up to
// 30 s of speech), mixes the employee's and the other speaker's test
// recordings into one dialogue (alternating turns, pauses of 0.3–1.0 s),
// finds the speech segments with the VAD as live and attributes them.
// Each segment's truth is the speaker of most of its frames.
func EvalDialogue(bg *Background, vm *vad.Model, employee, other string, enrol, empTurns, otherTurns [][]float32, seed uint64) (*DialogueResult, error) {
	ext := features.NewExtractor()
	det := vm.NewDetector()
	var frames [][]float64
	for _, x := range enrol {
		if float64(len(frames))/100 >= 30 {
			break
		}
		frames = append(frames, SpeechFrames(ext, det, x)...)
	}
	voice, err := bg.Enroll(employee, frames)
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, 3))
	var x []float32
	var truth []int8 // per frame: 1 employee, 0 other, -1 pause
	addPause := func() {
		n := int((0.3 + 0.7*r.Float64()) * features.Rate)
		n -= n % features.Hop
		x = append(x, make([]float32, n)...)
		for i := 0; i < n/features.Hop; i++ {
			truth = append(truth, -1)
		}
	}
	addTurn := func(a []float32, who int8) {
		a = a[:len(a)-len(a)%features.Hop]
		x = append(x, a...)
		for i := 0; i < len(a)/features.Hop; i++ {
			truth = append(truth, who)
		}
	}
	for i := 0; i < max(len(empTurns), len(otherTurns)); i++ {
		if i < len(empTurns) {
			addPause()
			addTurn(empTurns[i], 1)
		}
		if i < len(otherTurns) {
			addPause()
			addTurn(otherTurns[i], 0)
		}
	}
	addPause()
	a := ext.Analyze(x)
	det.Reset()
	mask, _ := vad.Mask(det, x, 0.5, features.Hop)
	at := &Attributor{Background: bg, Employee: voice}
	res := &DialogueResult{Employee: employee, Other: other, EnrolSeconds: voice.Seconds}
	for _, s := range at.Attribute(a, mask, vad.Segments(mask, 30, 30)) {
		var emp, oth int
		for f := s.Start; f < s.End && f < len(truth); f++ {
			switch truth[f] {
			case 1:
				emp++
			case 0:
				oth++
			}
		}
		if emp+oth == 0 {
			continue
		}
		res.Segments++
		if (emp >= oth) == s.Employee {
			res.SegmentsCorrect++
		}
		res.Frames += emp + oth
		if s.Employee {
			res.FramesCorrect += emp
		} else {
			res.FramesCorrect += oth
		}
	}
	return res, nil
}
