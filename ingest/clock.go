package ingest

import (
	"sync"
	"time"
)

// clock maps a track's RTP timestamps to the sender's wall clock. Until the
// first RTCP sender report it anchors on the arrival time of the first
// packet; from then on it uses the latest report (NTP time ↔ RTP time).
type clock struct {
	rate uint32

	mu       sync.Mutex
	anchored bool
	baseRTP  uint32
	baseWall time.Time
}

// ntpEpochOffset is the seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix).
const ntpEpochOffset = 2208988800

func ntpToTime(ntp uint64) time.Time {
	secs := int64(ntp>>32) - ntpEpochOffset
	frac := int64(ntp & 0xffffffff)
	return time.Unix(secs, frac*1e9>>32).UTC()
}

func (c *clock) senderReport(ntp uint64, rtpTS uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.anchored = true
	c.baseRTP = rtpTS
	c.baseWall = ntpToTime(ntp)
}

func (c *clock) wall(rtpTS uint32, arrival time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.anchored {
		c.anchored = true
		c.baseRTP = rtpTS
		c.baseWall = arrival.UTC()
	}
	// The signed difference copes with wrap-around and reordering.
	d := int64(int32(rtpTS - c.baseRTP))
	return c.baseWall.Add(time.Duration(d) * time.Second / time.Duration(c.rate))
}
