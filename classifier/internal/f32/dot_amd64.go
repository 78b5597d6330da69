package f32

import "golang.org/x/sys/cpu"

var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func dotAVX2(a, b []float32) float32

func dot(a, b []float32) float32 {
	if useAVX2 {
		return dotAVX2(a, b)
	}
	return dotGeneric(a, b)
}

func axpy(y []float32, a float32, x []float32) { axpyGeneric(y, a, x) }
func mulAdd(y, a, b []float32)                 { mulAddGeneric(y, a, b) }
