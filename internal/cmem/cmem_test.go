package cmem

import (
	"testing"

	"github.com/asticode/go-astiav"
)

// TestReadSeesAllocations: 64 MB that FFmpeg allocates shows in InUse and
// goes when freed; a leak of C memory is what the metric is there to show.
func TestReadSeesAllocations(t *testing.T) {
	before := Read()
	var ps []*astiav.Packet
	for range 64 {
		p := astiav.AllocPacket()
		if err := p.AllocPayload(1 << 20); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	during := Read()
	for _, p := range ps {
		p.Free()
	}
	after := Read()
	if grew := int64(during.InUse) - int64(before.InUse); grew < 60<<20 {
		t.Fatalf("64 MB allocated, InUse grew by %d bytes", grew)
	}
	if left := int64(after.InUse) - int64(before.InUse); left > 4<<20 {
		t.Fatalf("64 MB freed, InUse still %d bytes above the start", left)
	}
}
