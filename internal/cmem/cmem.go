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
