package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"contactd/classifier/speaker"
)

// TestSpeakerNAP: the nuisance subspace from a small corpus is a set of
// orthonormal directions of the background's supervector length, a left-out
// speaker is not learnt from, and bad flags are usage errors.
func TestSpeakerNAP(t *testing.T) {
	dir := smallCorpus(t, "3", "4")
	out := filepath.Join(t.TempDir(), "nap.json")
	code, stdout, errs := contactd(t, "speaker", "nap", "--corpus", dir, "--out", out, "--per-speaker", "12", "--directions", "4")
	if code != 0 || !strings.Contains(stdout, "4 directions from 2 speakers, 24 recordings") {
		t.Fatalf("exit %d: %q %s", code, stdout, errs)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	nz, err := speaker.ParseNuisance(b, out, speaker.UBMComponents*speaker.Dims)
	if err != nil {
		t.Fatal(err)
	}
	if len(nz.Basis) != 4 {
		t.Fatalf("%d directions, want 4", len(nz.Basis))
	}
	for i, x := range nz.Basis {
		for j, y := range nz.Basis {
			var d float64
			for k := range x {
				d += x[k] * y[k]
			}
			if want := map[bool]float64{true: 1, false: 0}[i == j]; math.Abs(d-want) > 1e-6 {
				t.Errorf("basis rows %d·%d = %g, want %g", i, j, d, want)
			}
		}
	}
	code, stdout, errs = contactd(t, "speaker", "nap", "--corpus", dir, "--out", out, "--per-speaker", "12", "--directions", "4", "--exclude-speaker", "mini/3")
	if code != 0 || !strings.Contains(stdout, "from 1 speakers, 12 recordings") {
		t.Errorf("--exclude-speaker mini/3: exit %d: %q %s", code, stdout, errs)
	}
	for _, args := range [][]string{
		{"--corpus", dir},
		{"--out", out},
		{"--corpus", dir, "--out", out, "--directions", "0"},
		{"--corpus", filepath.Join(dir, "missing"), "--out", out},
	} {
		if code, _, errs := contactd(t, append([]string{"speaker", "nap"}, args...)...); code != 2 {
			t.Errorf("speaker nap %v: exit %d (want 2): %s", args, code, errs)
		}
	}
}
