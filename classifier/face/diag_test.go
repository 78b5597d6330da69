package face

import (
	"math/rand/v2"
	"testing"
)

func TestDiagDetector(t *testing.T) {
	det, _ := LoadDetector(modelDir(t))
	var crops []*Image
	for _, s := range readSamples(t, validation(t), nil) {
		crops = append(crops, s.Image)
	}
	for _, cfg := range [][2]float64{{0.5, 416}, {0.3, 416}, {0.3, 608}, {0.2, 608}, {0.3, 320}} {
		th := cfg[0]
		det.ScoreThreshold = th
		det.InputSize = int(cfg[1])
		fp := 0
		bySize := map[int][2]int{}
		rng := rand.New(rand.NewPCG(42, 3))
		hist := map[string]int{}
		ratio := 0.0
		nr := 0
		for f := 0; f < 60; f++ {
			n := 1 + rng.IntN(3)
			var faces []*Image
			for i := 0; i < n; i++ {
				faces = append(faces, crops[rng.IntN(len(crops))])
			}
			sc := Compose(rng, 640, 480, faces, 60, 220)
			got := det.Detect(sc.Image)
			for _, g := range got {
				m := false
				for _, tb := range sc.Faces {
					if tb.IoU(g) >= 0.5 {
						m = true
					}
				}
				if !m {
					fp++
				}
			}
			for _, tb := range sc.Faces {
				best := 0.0
				var bb Box
				for _, g := range got {
					if iou := tb.IoU(g); iou > best {
						best, bb = iou, g
					}
				}
				bin := int(tb.W) / 40 * 40
				c := bySize[bin]
				c[1]++
				if best >= 0.5 {
					c[0]++
				}
				bySize[bin] = c
				switch {
				case best >= 0.5:
					hist[">=.5"]++
				case best >= 0.3:
					hist[".3-.5"]++
					ratio += bb.W / tb.W
					nr++
				case best > 0:
					hist["0-.3"]++
				default:
					hist["none"]++
				}
			}
		}
		t.Logf("threshold %.1f input %d: %v fp %d; by size %v; ratio %.2f", th, det.InputSize, hist, fp, bySize, ratio/float64(max(nr, 1)))
	}
}

func TestDiagCrops(t *testing.T) {
	det, _ := LoadDetector(modelDir(t))
	det.ScoreThreshold = 0.3
	det.InputSize = 416
	samples := readSamples(t, validation(t), nil)
	for _, pad := range []float64{0, 0.25} {
		found, n := 0, 0
		byLabel := map[string][2]int{}
		for i, s := range samples {
			if i%6 != 0 {
				continue
			}
			// the crop at 160 px in the middle of a grey 400x400 frame, with pad*160 grey margin already there
			frame := &Image{W: 400, H: 400, C: 3, Pix: make([]uint8, 400*400*3)}
			for k := range frame.Pix {
				frame.Pix[k] = 128
			}
			sz := 160
			paste(frame, s.Image, Box{X: 120, Y: 120, W: float64(sz), H: float64(sz)})
			_ = pad
			got := det.Detect(frame)
			ok := false
			best := 0.0
			var bb Box
			for _, g := range got {
				if iou := g.IoU(Box{X: 120, Y: 120, W: 160, H: 160}); iou > best {
					best, bb = iou, g
				}
				if g.IoU(Box{X: 120, Y: 120, W: 160, H: 160}) >= 0.5 {
					ok = true
				}
			}
			if !ok && len(got) > 0 && i%30 == 0 {
				t.Logf("%s: best IoU %.2f box %+v", s.Name, best, bb)
			}
			if len(got) == 0 {
				byLabel["nodet"] = [2]int{byLabel["nodet"][0] + 1, 0}
			}
			c := byLabel[s.Label]
			c[1]++
			n++
			if ok {
				found++
				c[0]++
			}
			byLabel[s.Label] = c
		}
		t.Logf("pad %.2f: %d/%d = %.3f; %v", pad, found, n, float64(found)/float64(n), byLabel)
		break
	}
}

func TestDiagScales(t *testing.T) {
	det, _ := LoadDetector(modelDir(t))
	samples := readSamples(t, validation(t), nil)
	for _, th := range []float64{0.3, 0.15} {
		det.ScoreThreshold = th
		cnt := map[int]int{}
		union, n := 0, 0
		for i, s := range samples {
			if i%12 != 0 {
				continue
			}
			frame := &Image{W: 400, H: 400, C: 3, Pix: make([]uint8, 400*400*3)}
			for k := range frame.Pix {
				frame.Pix[k] = 128
			}
			paste(frame, s.Image, Box{X: 120, Y: 120, W: 160, H: 160})
			n++
			any := false
			for _, size := range []int{160, 224, 320, 416, 608} {
				det.InputSize = size
				got := det.Detect(frame)
				hit := false
				for _, g := range got {
					if g.IoU(Box{X: 120, Y: 120, W: 160, H: 160}) > 0.2 {
						hit = true
					}
				}
				if hit {
					cnt[size]++
					any = true
				}
			}
			if any {
				union++
			}
		}
		t.Logf("threshold %.2f: n %d, any-scale %d, per size %v", th, n, union, cnt)
	}
}
