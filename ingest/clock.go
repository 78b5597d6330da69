package ingest

import (
	"sync"
	"time"
)

// clock maps a track's RTP timestamps to the sender's wall clock. Until the
// first RTCP sender report it anchors on the arrival time of the first
// packet. Reports then correct it: small corrections are slewed (at most a
// tenth of the media time that passes) so timestamps never run backwards
// inside a segment; a correction over a second is taken at once.
type clock struct {
	rate uint32

	mu       sync.Mutex
	anchored bool
	baseRTP  uint32
	baseWall time.Time
	haveSR   bool
	srRTP    uint32
	srWall   time.Time
	corr     time.Duration // applied correction to the arrival anchor
	lastTS   uint32
	haveLast bool
}

// ntpEpochOffset is the seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix).
const ntpEpochOffset = 2208988800

func ntpToTime(ntp uint64) time.Time {
	secs := int64(ntp>>32) - ntpEpochOffset
	frac := int64(ntp & 0xffffffff)
	return time.Unix(secs, (frac*1e9+1<<31)>>32).UTC() // rounded to the nearest ns
}

func (c *clock) senderReport(ntp uint64, rtpTS uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.haveSR = true
	c.srRTP = rtpTS
	c.srWall = ntpToTime(ntp)
}

// since is the media time from a to b on this clock; the signed difference
// copes with wrap-around and reordering.
func (c *clock) since(a, b uint32) time.Duration {
	return time.Duration(int64(int32(b-a))) * time.Second / time.Duration(c.rate)
}

func (c *clock) wall(rtpTS uint32, arrival time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.anchored {
		c.anchored = true
		c.baseRTP = rtpTS
		c.baseWall = arrival.UTC()
	}
	local := c.baseWall.Add(c.since(c.baseRTP, rtpTS))
	if c.haveSR {
		target := c.srWall.Add(c.since(c.srRTP, rtpTS)).Sub(local)
		switch d := target - c.corr; {
		case !c.haveLast || d > time.Second || d < -time.Second:
			c.corr = target
		default:
			step := c.since(c.lastTS, rtpTS) / 10
			if step < 0 {
				step = 0
			}
			c.corr += max(-step, min(step, d))
		}
	}
	c.lastTS, c.haveLast = rtpTS, true
	return local.Add(c.corr)
}
