package face

import (
	"math/bits"
	"sync"
)

// Scratch buffers: the live path runs the networks a few times a second
// per camera, and each layer's activations are megabytes; allocating them
// afresh made the garbage collector a quarter of the face path's CPU.
// Buffers come in power-of-two sizes, one pool per size.
var scratch [40]sync.Pool

// getBuf returns a zeroed buffer of n floats.
func getBuf(n int) []float32 {
	if n == 0 {
		return nil
	}
	k := bits.Len(uint(n - 1))
	if b, ok := scratch[k].Get().(*[]float32); ok {
		s := (*b)[:n]
		clear(s)
		return s
	}
	return make([]float32, n, 1<<k)
}

// putBuf gives a buffer from getBuf back; nothing may use it afterwards.
func putBuf(s []float32) {
	c := cap(s)
	if c == 0 || c&(c-1) != 0 {
		return // not one of ours
	}
	s = s[:c]
	scratch[bits.Len(uint(c-1))].Put(&s)
}

// release gives back the buffers of tensors no longer needed.
func release(ts ...*tensor) {
	for _, t := range ts {
		if t != nil {
			putBuf(t.d)
			t.d = nil
		}
	}
}
