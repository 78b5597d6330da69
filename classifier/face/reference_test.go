package face

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"contactd/classifier/models"
	"contactd/internal/testenv"
)

// The fixture: outputs of @vladmandic/face-api 1.7.15 on the tfjs wasm
// backend (tools/faceref), computed once on named FER2013 validation crops
// and on seeded scenes composed from them. CONTACTD_UPDATE_FIXTURES=1
// recomputes it.
type fixture struct {
	Expression []struct {
		Entry string    `json:"entry"`
		Probs []float64 `json:"probs"`
	} `json:"expression"`
	Scenes []struct {
		Seed  uint64    `json:"seed"`
		Size  int       `json:"input_size"`
		Shape []int     `json:"shape"`
		Raw   []float32 `json:"raw"`
		Boxes []Box     `json:"boxes"`
	} `json:"scenes"`
}

const fixturePath = "testdata/reference.json"

func modelDir(t testing.TB) string {
	t.Helper()
	p, err := models.Find(filepath.Join("face", "face_expression_model-weights_manifest.json"), "")
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(p)
}

func validation(t testing.TB) string {
	return filepath.Join(testenv.Datasets(t), "fer2013", "validation.tar")
}

func readSamples(t testing.TB, tarPath string, keep func(string) bool) []Sample {
	t.Helper()
	f, err := os.Open(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, _, err := ReadTar(f, keep)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// scene composes the fixture's frame for a seed from the given crops.
func scene(seed uint64, crops []Sample) Scene {
	rng := rand.New(rand.NewPCG(seed, 7))
	var faces []*Image
	for i := 0; i < 1+int(seed%3); i++ {
		faces = append(faces, crops[rng.IntN(len(crops))].Image)
	}
	return Compose(rng, 640, 480, faces, 60, 220)
}

func writeRecords(t testing.TB, path string, imgs []*Image) {
	t.Helper()
	var b []byte
	for _, m := range imgs {
		b = binary.LittleEndian.AppendUint32(b, uint32(m.W))
		b = binary.LittleEndian.AppendUint32(b, uint32(m.H))
		b = binary.LittleEndian.AppendUint32(b, uint32(m.C))
		b = append(b, m.Pix...)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// runRef runs tools/faceref/faceref.js.
func runRef(t testing.TB, args ...string) []byte {
	t.Helper()
	dir, _ := filepath.Abs("../../tools/faceref")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@vladmandic", "face-api")); err != nil {
		t.Fatal("tools/faceref is not installed: run scripts/setup.sh")
	}
	cmd := exec.Command(testenv.Tool(t, "node"), append([]string{"faceref.js"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("faceref %v: %v", args, err)
	}
	return out
}

// fixtureCrops are the validation entries the fixture uses: the first two
// of each label in the tar.
func fixtureCrops(t testing.TB) []Sample {
	all := readSamples(t, validation(t), nil)
	per := map[string]int{}
	var out []Sample
	for _, s := range all {
		if per[s.Label] < 2 {
			per[s.Label]++
			out = append(out, s)
		}
	}
	return out
}

func TestUpdateFixture(t *testing.T) {
	if os.Getenv("CONTACTD_UPDATE_FIXTURES") == "" {
		t.Skip("set CONTACTD_UPDATE_FIXTURES=1 to recompute testdata/reference.json with tools/faceref")
	}
	crops := fixtureCrops(t)
	tmp := t.TempDir()
	var fx fixture
	var imgs []*Image
	for _, s := range crops {
		imgs = append(imgs, s.Image)
	}
	writeRecords(t, filepath.Join(tmp, "crops.bin"), imgs)
	var er struct {
		Results []struct{ Probs map[string]float64 }
	}
	if err := json.Unmarshal(runRef(t, "expression", filepath.Join(tmp, "crops.bin")), &er); err != nil {
		t.Fatal(err)
	}
	for i, s := range crops {
		var p []float64
		for _, e := range Expressions {
			p = append(p, er.Results[i].Probs[e])
		}
		fx.Expression = append(fx.Expression, struct {
			Entry string    `json:"entry"`
			Probs []float64 `json:"probs"`
		}{s.Name, p})
	}
	for _, c := range []struct {
		seed uint64
		size int
	}{{1, 224}, {2, 320}, {3, 416}} {
		sc := scene(c.seed, crops)
		writeRecords(t, filepath.Join(tmp, "scene.bin"), []*Image{sc.Image})
		var dr struct {
			Results []struct {
				Shape []int
				Raw   []float32
				Boxes []struct{ X, Y, W, H, Score float64 }
			}
		}
		if err := json.Unmarshal(runRef(t, "detect", filepath.Join(tmp, "scene.bin"), itoa(c.size)), &dr); err != nil {
			t.Fatal(err)
		}
		r := dr.Results[0]
		var boxes []Box
		for _, b := range r.Boxes {
			boxes = append(boxes, Box{X: b.X, Y: b.Y, W: b.W, H: b.H, Score: b.Score})
		}
		raw := r.Raw
		if c.size > 224 {
			raw = nil // only the smallest grid is kept whole; the larger ones by their boxes
		}
		fx.Scenes = append(fx.Scenes, struct {
			Seed  uint64    `json:"seed"`
			Size  int       `json:"input_size"`
			Shape []int     `json:"shape"`
			Raw   []float32 `json:"raw"`
			Boxes []Box     `json:"boxes"`
		}{c.seed, c.size, r.Shape, raw, boxes})
	}
	b, _ := json.Marshal(fx)
	os.MkdirAll("testdata", 0o755)
	if err := os.WriteFile(fixturePath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", fixturePath, len(b))
}

func itoa(n int) string {
	return string(rune('0'+n/100)) + string(rune('0'+n/10%10)) + string(rune('0'+n%10))
}

func loadFixture(t *testing.T) fixture {
	b, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	var fx fixture
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	return fx
}

// TestExpressionMatchesReference: the Go network gives face-api's
// probabilities within 1e-3 on every fixture crop.
func TestExpressionMatchesReference(t *testing.T) {
	fx := loadFixture(t)
	net, err := LoadExpressionNet(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, e := range fx.Expression {
		names[e.Entry] = true
	}
	byName := map[string]*Image{}
	for _, s := range readSamples(t, validation(t), func(n string) bool { return names[n] }) {
		byName[s.Name] = s.Image
	}
	worst := 0.0
	for _, e := range fx.Expression {
		img := byName[e.Entry]
		if img == nil {
			t.Fatalf("%s is not in the validation tar", e.Entry)
		}
		got := net.Classify(img)
		for i := range got {
			worst = max(worst, math.Abs(got[i]-e.Probs[i]))
		}
	}
	t.Logf("%d crops: max abs difference %.2g", len(fx.Expression), worst)
	if worst > 1e-3 || len(fx.Expression) < 10 {
		t.Errorf("max abs difference %.3g over %d crops (want ≤ 1e-3)", worst, len(fx.Expression))
	}
}

// TestDetectorMatchesReference: the raw grid within 1e-3, and the same boxes.
func TestDetectorMatchesReference(t *testing.T) {
	fx := loadFixture(t)
	det, err := LoadDetector(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	crops := fixtureCrops(t)
	for _, s := range fx.Scenes {
		sc := scene(s.Seed, crops)
		det.InputSize = s.Size
		if s.Raw != nil {
			x, _, _ := padToSquare(sc.Image.tensor(), false)
			out := det.raw(resizeBilinear(x, s.Size, s.Size))
			if !slices.Equal([]int{1, out.h, out.w, out.c}, s.Shape) {
				t.Fatalf("shape %v, want %v", []int{out.h, out.w, out.c}, s.Shape)
			}
			worst := 0.0
			for i, v := range out.d {
				worst = max(worst, math.Abs(float64(v-s.Raw[i])))
			}
			t.Logf("scene %d at %d: raw grid max abs difference %.2g", s.Seed, s.Size, worst)
			if worst > 1e-3 {
				t.Errorf("scene %d: raw max abs difference %.3g", s.Seed, worst)
			}
		}
		got := det.Detect(sc.Image)
		if len(got) != len(s.Boxes) {
			t.Errorf("scene %d at %d: %d boxes, reference %d (%+v vs %+v)", s.Seed, s.Size, len(got), len(s.Boxes), got, s.Boxes)
			continue
		}
		for i := range got {
			if got[i].IoU(s.Boxes[i]) < 0.99 || math.Abs(got[i].Score-s.Boxes[i].Score) > 1e-3 {
				t.Errorf("scene %d box %d: %+v, reference %+v", s.Seed, i, got[i], s.Boxes[i])
			}
		}
	}
}
