package face

import (
	"math/rand/v2"
	"testing"
)

func BenchmarkExpression(b *testing.B) {
	net, err := LoadExpressionNet(modelDir(b))
	if err != nil {
		b.Fatal(err)
	}
	img := &Image{W: 48, H: 48, C: 1, Pix: make([]uint8, 48*48)}
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		net.Classify(img)
	}
}

func BenchmarkDetect320x240(b *testing.B) {
	det, err := LoadDetector(modelDir(b))
	if err != nil {
		b.Fatal(err)
	}
	face := &Image{W: 48, H: 48, C: 1, Pix: make([]uint8, 48*48)}
	sc := Compose(rand.New(rand.NewPCG(1, 2)), 320, 240, []*Image{face}, 60, 120)
	det.InputSize = 224
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		det.Detect(sc.Image)
	}
}
