package face

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"sync"
)

// Report is an evaluation of 7-class expression predictions.
type Report struct {
	N        int                `json:"n"`
	Accuracy float64            `json:"accuracy"`
	PerClass map[string]float64 `json:"per_class"` // recall per label
	// Confusion[i][j] counts crops of Labels[i] predicted as Labels[j].
	Confusion [][]int  `json:"confusion"`
	Labels    []string `json:"labels"`
	HappyAUC  float64  `json:"happy_auc"`
}

// Evaluate scores probability rows (in Labels order) against true labels.
func Evaluate(probs [][]float64, truth []string) Report {
	r := Report{N: len(truth), PerClass: map[string]float64{}, Labels: slices.Clone(Labels)}
	r.Confusion = make([][]int, len(Labels))
	for i := range r.Confusion {
		r.Confusion[i] = make([]int, len(Labels))
	}
	correct := 0
	var happy []float64
	var isHappy []bool
	for k, p := range probs {
		t := slices.Index(Labels, truth[k])
		best := 0
		for j := range p {
			if p[j] > p[best] {
				best = j
			}
		}
		r.Confusion[t][best]++
		if t == best {
			correct++
		}
		happy = append(happy, p[1])
		isHappy = append(isHappy, t == 1)
	}
	if r.N > 0 {
		r.Accuracy = float64(correct) / float64(r.N)
	}
	for i, l := range Labels {
		n := 0
		for _, c := range r.Confusion[i] {
			n += c
		}
		if n > 0 {
			r.PerClass[l] = float64(r.Confusion[i][i]) / float64(n)
		}
	}
	r.HappyAUC = AUC(happy, isHappy)
	return r
}

// AUC is the area under the ROC curve of scores for the positives: the
// chance a random positive outscores a random negative (ties count half).
func AUC(scores []float64, positive []bool) float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	// Mann–Whitney U from average ranks.
	var rankSum float64
	npos := 0
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if positive[idx[k]] {
				rankSum += avg
				npos++
			}
		}
		i = j
	}
	nneg := len(scores) - npos
	if npos == 0 || nneg == 0 {
		return 0
	}
	return (rankSum - float64(npos)*float64(npos+1)/2) / (float64(npos) * float64(nneg))
}

// DetectorReport measures a detector on composed scenes.
type DetectorReport struct {
	Frames         int     `json:"frames"`
	Faces          int     `json:"faces"`
	Found          int     `json:"found"` // matched at IoU ≥ 0.5
	Recall         float64 `json:"recall"`
	FalsePositives int     `json:"false_positives"`
	FPPerFrame     float64 `json:"false_positives_per_frame"`
	MeanIoU        float64 `json:"mean_iou"` // of the matched faces
}

// EvaluateDetector composes frames (w × h) from crops with a seeded random
// generator, 1–3 faces each at sizes minSize–maxSize, and matches the
// detections to the placed faces greedily at IoU ≥ 0.5.
func EvaluateDetector(det *Detector, crops []*Image, frames, w, h, minSize, maxSize int, seed uint64) DetectorReport {
	return SweepDetector(det, crops, frames, w, h, minSize, maxSize, seed, []float64{det.ScoreThreshold})[0]
}

// SweepDetector is EvaluateDetector at several score thresholds from one
// run at the lowest: keeping the boxes above a higher threshold after
// suppression and merging is what a run at that threshold gives (both keep
// boxes greedily, best score first, so a weaker box never removes a
// stronger one). Frames are detected on every core.
func SweepDetector(det *Detector, crops []*Image, frames, w, h, minSize, maxSize int, seed uint64, thresholds []float64) []DetectorReport {
	rng := rand.New(rand.NewPCG(seed, 3))
	scenes := make([]Scene, frames)
	for f := range scenes {
		n := 1 + rng.IntN(3)
		var faces []*Image
		for i := 0; i < n; i++ {
			faces = append(faces, crops[rng.IntN(len(crops))])
		}
		scenes[f] = Compose(rng, w, h, faces, minSize, maxSize)
	}
	keep := det.ScoreThreshold
	det.ScoreThreshold = slices.Min(thresholds)
	got := make([][]Box, frames)
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range next {
				got[f] = det.Detect(scenes[f].Image)
			}
		}()
	}
	for f := range scenes {
		next <- f
	}
	close(next)
	wg.Wait()
	det.ScoreThreshold = keep
	reports := make([]DetectorReport, len(thresholds))
	for ti, th := range thresholds {
		r := &reports[ti]
		iouSum := 0.0
		for f, sc := range scenes {
			var boxes []Box
			for _, b := range got[f] {
				if b.Score > th {
					boxes = append(boxes, b)
				}
			}
			used := make([]bool, len(boxes))
			for _, t := range sc.Faces {
				best, bi := 0.0, -1
				for i, g := range boxes {
					if iou := t.IoU(g); !used[i] && iou > best {
						best, bi = iou, i
					}
				}
				if best >= 0.5 {
					used[bi] = true
					r.Found++
					iouSum += best
				}
			}
			for _, u := range used {
				if !u {
					r.FalsePositives++
				}
			}
			r.Faces += len(sc.Faces)
			r.Frames++
		}
		if r.Faces > 0 {
			r.Recall = float64(r.Found) / float64(r.Faces)
		}
		if r.Found > 0 {
			r.MeanIoU = iouSum / float64(r.Found)
		}
		if r.Frames > 0 {
			r.FPPerFrame = float64(r.FalsePositives) / float64(r.Frames)
		}
	}
	return reports
}

// Calibrate measures how the detector's boxes sit on the placed faces of
// composed scenes: the median size ratio (face / box) and the median
// vertical offset of the face centre (in box heights). det's own BoxScale
// and BoxShift should be 1 and 0 while it runs.
func Calibrate(det *Detector, crops []*Image, frames, w, h, minSize, maxSize int, seed uint64) (scale, shift float64, matched int) {
	rng := rand.New(rand.NewPCG(seed, 3))
	var ratios, shifts []float64
	for f := 0; f < frames; f++ {
		n := 1 + rng.IntN(3)
		var faces []*Image
		for i := 0; i < n; i++ {
			faces = append(faces, crops[rng.IntN(len(crops))])
		}
		sc := Compose(rng, w, h, faces, minSize, maxSize)
		got := det.Detect(sc.Image)
		for _, t := range sc.Faces {
			// The detection whose centre lies inside the face and is nearest its centre.
			best, bd := -1, math.Inf(1)
			for i, g := range got {
				gx, gy := g.X+g.W/2, g.Y+g.H/2
				if gx < t.X || gx > t.X+t.W || gy < t.Y || gy > t.Y+t.H {
					continue
				}
				if d := math.Hypot(gx-(t.X+t.W/2), gy-(t.Y+t.H/2)); d < bd {
					best, bd = i, d
				}
			}
			if best < 0 {
				continue
			}
			g := got[best]
			ratios = append(ratios, math.Sqrt(t.W*t.H/(g.W*g.H)))
			shifts = append(shifts, ((t.Y+t.H/2)-(g.Y+g.H/2))/g.H)
		}
	}
	return median(ratios), median(shifts), len(ratios)
}

func median(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	s := slices.Clone(x)
	slices.Sort(s)
	return s[len(s)/2]
}
