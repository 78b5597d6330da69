package vad

import "math"

// GateDB is the energy gate in front of the network: a 32 ms chunk quieter
// than this (RMS, dB re full scale) is silence without running it. Speech
// at a desk microphone sits 30–50 dB above it.
const GateDB = -65

// StepGated is Step behind the energy gate: a chunk below GateDB is
// silence (probability 0, gated true) without running the network, and
// after 320 ms of such chunks the state is reset, as at the start of a
// stream.
func (d *Detector) StepGated(chunk []float32) (p float32, gated bool) {
	if d.NoGate {
		return d.Step(chunk), false
	}
	var e float64
	for _, v := range chunk {
		e += float64(v) * float64(v)
	}
	if 10*math.Log10(e/float64(len(chunk))+1e-12) < GateDB {
		if d.quiet++; d.quiet == 10 {
			d.Reset()
		}
		return 0, true
	}
	d.quiet = 0
	return d.Step(chunk), false
}

// Mask runs the detector over x (16 kHz) and marks the frames of hop
// samples that hold speech (see ChunksToFrames). gated counts the chunks
// the energy gate spared the network.
func Mask(det *Detector, x []float32, threshold float32, hop int) (mask []bool, gated int) {
	chunk := make([]float32, ChunkSize)
	var speech []bool
	for i := 0; i < len(x); i += ChunkSize {
		clear(chunk)
		copy(chunk, x[i:min(i+ChunkSize, len(x))])
		p, g := det.StepGated(chunk)
		if g {
			gated++
		}
		speech = append(speech, p >= threshold)
	}
	return ChunksToFrames(speech, len(x)/hop, hop), gated
}

// ChunksToFrames turns per-chunk speech decisions into a mask of n frames
// of hop samples: a frame is speech when the chunk holding its centre is,
// widened by 30 ms on each side so word edges are kept.
func ChunksToFrames(speech []bool, n, hop int) []bool {
	raw := make([]bool, n)
	for f := range raw {
		if c := (f*hop + hop/2) / ChunkSize; c < len(speech) {
			raw[f] = speech[c]
		}
	}
	mask := make([]bool, n)
	widen := (30*Rate/1000 + hop - 1) / hop
	for i, v := range raw {
		if v {
			for j := max(i-widen, 0); j <= min(i+widen, n-1); j++ {
				mask[j] = true
			}
		}
	}
	return mask
}

// Segments are the runs of speech frames in a mask, bridging pauses of
// fewer than bridge frames and keeping runs of at least minLen frames, as
// [start, end) frame ranges.
func Segments(mask []bool, bridge, minLen int) [][2]int {
	var out [][2]int
	n := len(mask)
	for f := 0; f < n; {
		if !mask[f] {
			f++
			continue
		}
		g := f
		for g < n {
			if mask[g] {
				g++
				continue
			}
			// A pause: bridge it if speech resumes within bridge frames.
			h := g
			for h < n && h-g < bridge && !mask[h] {
				h++
			}
			if h < n && h-g < bridge && mask[h] {
				g = h
				continue
			}
			break
		}
		if g-f >= minLen {
			out = append(out, [2]int{f, g})
		}
		f = g
	}
	return out
}
