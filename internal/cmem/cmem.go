// Package cmem tunes the C allocator that FFmpeg and libopus use inside
// the server. glibc's malloc gives each OS thread that calls it an arena
// of its own (up to eight per core) and keeps freed memory in them; with
// cgo calls hopping between threads, a long-running server's C memory then
// creeps up through fragmentation rather than use.
package cmem

/*
#include <malloc.h>
*/
import "C"

// LimitArenas caps how many malloc arenas threads may create from now on.
func LimitArenas(n int) { C.mallopt(C.M_ARENA_MAX, C.int(n)) }

// Trim returns the free memory at the top and inside every arena to the
// operating system.
func Trim() { C.malloc_trim(0) }

// Stats is what the C allocator holds, summed over its arenas.
type Stats struct {
	// InUse is memory handed out and not freed (heap chunks and the
	// large blocks malloc maps on their own): what grows with a leak.
	InUse uint64
	// Free is memory freed but still held in the arenas: what grows with
	// fragmentation.
	Free uint64
}

// Read asks glibc for its current figures (mallinfo2 walks every arena
// under its lock: cheap at a scrape a minute, not for a hot path).
func Read() Stats {
	mi := C.mallinfo2()
	return Stats{InUse: uint64(mi.uordblks) + uint64(mi.hblkhd), Free: uint64(mi.fordblks)}
}
