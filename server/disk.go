package server

import (
	"slices"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"contactd/recorder"
)

// diskEvery is how often the state directory's free space is checked.
const diskEvery = 10 * time.Second

// statfsFree is the free space for unprivileged writers on path's disk.
func statfsFree(path string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

func (s *Server) diskMetrics() {
	if s.DiskFree == nil {
		s.DiskFree = statfsFree
	}
	site := prometheus.Labels{"site": s.Config.Site}
	s.diskFree = prometheus.NewGauge(prometheus.GaugeOpts{Name: "contactd_disk_free_bytes", ConstLabels: site,
		Help: "Free space on the disk of the state directory (segments, journals, upload queue)."})
	s.diskLow = prometheus.NewGauge(prometheus.GaugeOpts{Name: "contactd_disk_low", ConstLabels: site,
		Help: "1 while free space is under recorder.min_free_bytes (segments no contact needs are evicted)."})
	s.Registry.MustRegister(s.diskFree, s.diskLow)
}

// checkDisk evicts, when free space is under recorder.min_free_bytes, the
// segments no pending contact needs, oldest first, until there is enough
// again. Segments a pending contact needs and the upload queue's clips are
// never touched: running out of disk then is the clinic's alarm to answer
// (contactd_disk_low), not a reason to lose a contact.
func (s *Server) checkDisk() {
	minFree := s.Config.Recorder.MinFreeBytes
	free, err := s.DiskFree(s.Config.StateDir)
	if err != nil {
		s.Log.Error("disk free space", "path", s.Config.StateDir, "error", err)
		return
	}
	s.diskFree.Set(float64(free))
	if minFree <= 0 || free >= uint64(minFree) {
		if s.wasLow {
			s.Log.Info("disk space back above the minimum", "free_bytes", free, "min_free_bytes", minFree)
		}
		s.wasLow = false
		s.diskLow.Set(0)
		return
	}
	s.diskLow.Set(1)
	keep := s.engine.KeepAfter()
	type cand struct {
		r   *recorder.Recorder
		seg recorder.Segment
	}
	var cs []cand
	s.mu.Lock()
	for _, r := range s.recorders {
		for _, seg := range r.Segments(time.Time{}, keep) {
			if seg.End.Before(keep) {
				cs = append(cs, cand{r, seg})
			}
		}
	}
	s.mu.Unlock()
	slices.SortFunc(cs, func(a, b cand) int { return a.seg.End.Compare(b.seg.End) })
	evicted := 0
	for _, c := range cs {
		if free >= uint64(minFree) {
			break
		}
		c.r.RemoveSegment(c.seg.Path)
		evicted++
		if free, err = s.DiskFree(s.Config.StateDir); err != nil {
			break
		}
	}
	if !s.wasLow || evicted > 0 {
		s.Log.Warn("disk nearly full: segments no contact needs evicted before their retention",
			"free_bytes", free, "min_free_bytes", minFree, "evicted", evicted, "path", s.Config.StateDir)
	}
	if free < uint64(minFree) && (!s.wasLow || evicted > 0) {
		s.Log.Error("disk nearly full and nothing more may be evicted: pending contacts' segments and clips waiting for upload are kept; free space is needed",
			"free_bytes", free, "min_free_bytes", minFree)
	}
	s.diskFree.Set(float64(free))
	s.wasLow = true
}
