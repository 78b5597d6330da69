// Package metrics defines contactd's Prometheus metrics on an injected
// registry, so each server, command and test owns its own.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"contactd/contact"
	"contactd/segmenter"
)

// Pipeline counts what the contact pipeline produced. Labels are bounded:
// site and station come from configuration, set and flag from fixed lists.
type Pipeline struct {
	Contacts        *prometheus.CounterVec
	ContactDuration *prometheus.HistogramVec
	Ratings         *prometheus.CounterVec
	OrphanRatings   *prometheus.CounterVec
	PassBys         *prometheus.CounterVec
	Flags           *prometheus.CounterVec
	IgnoredLeaves   *prometheus.CounterVec
	ClipCut         *prometheus.HistogramVec
	RejectedInput   *prometheus.CounterVec
}

// NewPipeline registers the pipeline metrics on reg.
func NewPipeline(reg prometheus.Registerer) *Pipeline {
	ss := []string{"site", "station"}
	p := &Pipeline{
		Contacts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contactd_contacts_total", Help: "Patient contacts served (pass-bys excluded), by set.",
		}, append(ss, "set")),
		ContactDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "contactd_contact_duration_seconds", Help: "Time from arrive to leave of served contacts.",
			Buckets: []float64{10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 900, 1800},
		}, ss),
		Ratings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contactd_ratings_total", Help: "Ratings joined to a contact, by the set they put it in.",
		}, append(ss, "set")),
		OrphanRatings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contactd_orphan_ratings_total", Help: "Ratings that matched no contact (kept and listed).",
		}, ss),
		PassBys: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contactd_pass_bys_total", Help: "Presences shorter than min_contact.",
		}, ss),
		Flags: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contactd_contact_flags_total", Help: "Contacts flagged for review, by flag.",
		}, append(ss, "flag")),
		IgnoredLeaves: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contactd_ignored_leaves_total", Help: "Leave events with no open contact.",
		}, ss),
		ClipCut: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "contactd_clip_cut_seconds", Help: "Time to cut and store one clip.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, ss),
		RejectedInput: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contactd_rejected_input_lines_total", Help: "Input lines rejected as malformed, by kind.",
		}, []string{"site", "kind"}),
	}
	reg.MustRegister(p.Contacts, p.ContactDuration, p.Ratings, p.OrphanRatings, p.PassBys, p.Flags, p.IgnoredLeaves,
		p.ClipCut, p.RejectedInput)
	return p
}

// ObserveResult counts a segmenter result of one site.
func (p *Pipeline) ObserveResult(site string, r *segmenter.Result) {
	for _, c := range r.Contacts {
		p.InitStation(site, c.Station)
	}
	for _, c := range r.Contacts {
		p.Contacts.WithLabelValues(site, c.Station, string(c.Set)).Inc()
		p.ContactDuration.WithLabelValues(site, c.Station).Observe(c.Duration().Seconds())
		if c.Rating != nil {
			p.Ratings.WithLabelValues(site, c.Station, string(c.Set)).Inc()
		}
		for _, f := range c.Flags {
			p.Flags.WithLabelValues(site, c.Station, string(f)).Inc()
		}
	}
	for _, pb := range r.PassBys {
		p.PassBys.WithLabelValues(site, pb.Station).Inc()
	}
	for _, o := range r.Orphans {
		p.OrphanRatings.WithLabelValues(site, o.Station).Inc()
	}
	for _, e := range r.IgnoredLeaves {
		p.IgnoredLeaves.WithLabelValues(site, e.Station).Inc()
	}
}

// InitStation creates a station's series at zero, so that a rate over a
// set that has not happened yet is 0 rather than missing.
func (p *Pipeline) InitStation(site, station string) {
	for _, set := range contact.Sets {
		p.Contacts.WithLabelValues(site, station, string(set))
		p.Ratings.WithLabelValues(site, station, string(set))
	}
	for _, f := range []contact.Flag{contact.FlagLeaveMissing, contact.FlagMisuse, contact.FlagNoMedia} {
		p.Flags.WithLabelValues(site, station, string(f))
	}
	p.PassBys.WithLabelValues(site, station)
	p.OrphanRatings.WithLabelValues(site, station)
	p.IgnoredLeaves.WithLabelValues(site, station)
}

// Ingest counts the health of the live media path. Unknown stations are
// counted under station="" so their names cannot grow the label set.
type Ingest struct {
	site           string
	StreamUp       *prometheus.GaugeVec
	PacketsLost    *prometheus.CounterVec
	Dropped        *prometheus.CounterVec
	Rejected       *prometheus.CounterVec
	SegmentsOnDisk *prometheus.GaugeVec
}

// NewIngest registers the ingest metrics on reg.
func NewIngest(reg prometheus.Registerer, site string) *Ingest {
	m := &Ingest{
		site: site,
		StreamUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "contactd_stream_up", Help: "1 while a station's WebRTC session is connected.",
		}, []string{"site", "station"}),
		PacketsLost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contactd_rtp_packets_lost_total", Help: "RTP packets missing from a station's audio (sequence gaps).",
		}, []string{"site", "station"}),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contactd_dropped_units_total", Help: "Media units dropped by a full bounded queue, by stage.",
		}, []string{"site", "station", "stage"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contactd_rejected_requests_total", Help: "Requests and messages refused, by reason.",
		}, []string{"site", "station", "reason"}),
		SegmentsOnDisk: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "contactd_segments_on_disk", Help: "Recorded segments kept on disk for a station.",
		}, []string{"site", "station"}),
	}
	reg.MustRegister(m.StreamUp, m.PacketsLost, m.Dropped, m.Rejected, m.SegmentsOnDisk)
	return m
}

// SetStreamUp marks a station's stream up or down.
func (m *Ingest) SetStreamUp(station string, up bool) {
	v := 0.0
	if up {
		v = 1
	}
	m.StreamUp.WithLabelValues(m.site, station).Set(v)
}

// AddPacketsLost counts missing RTP packets.
func (m *Ingest) AddPacketsLost(station string, n int) {
	m.PacketsLost.WithLabelValues(m.site, station).Add(float64(n))
}

// AddRejected counts a refused request or message.
func (m *Ingest) AddRejected(station, reason string) {
	m.Rejected.WithLabelValues(m.site, station, reason).Inc()
}

// AddDropped counts a unit dropped at stage.
func (m *Ingest) AddDropped(station, stage string) {
	m.Dropped.WithLabelValues(m.site, station, stage).Inc()
}
