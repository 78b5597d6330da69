//go:build !amd64

package f32

func dot(a, b []float32) float32 { return dotGeneric(a, b) }
