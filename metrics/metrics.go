// Package metrics defines contactd's Prometheus metrics on an injected
// registry, so each server, command and test owns its own.
package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"contactd/contact"
	"contactd/segmenter"
)

// Pipeline counts what the contact pipeline produced. Labels are bounded:
// site, station and employee come from configuration, set, flag, scale,
// value and box from fixed lists (a scale's values are its rule's).
type Pipeline struct {
	// Rules give each rating's set and box (default: contact.DefaultSetRules).
	Rules contact.SetRules
	// EmployeeOf names the employee on shift at a station at a time ("" if none).
	EmployeeOf func(station string, at time.Time) string

	Contacts        *prometheus.CounterVec
	ContactDuration *prometheus.HistogramVec
	Ratings         *prometheus.CounterVec
	OrphanRatings   *prometheus.CounterVec
	// Disagreements of a station's sensor with its voices, by kind.
	Disagreements *prometheus.CounterVec
	PassBys       *prometheus.CounterVec
	Flags         *prometheus.CounterVec
	IgnoredLeaves *prometheus.CounterVec
	ClipCut       *prometheus.HistogramVec
	RejectedInput *prometheus.CounterVec
	// Consult counts consulting rooms' conversations and no-shows.
	Consult *Consult
}

// NewPipeline registers the pipeline metrics on reg.
func NewPipeline(reg prometheus.Registerer) *Pipeline {
	sse := []string{"site", "station", "employee"}
	p := &Pipeline{
		Contacts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contactd_contacts_total", Help: "Patient contacts served (pass-bys excluded), by set.",
		}, append(sse, "set")),
		ContactDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "contactd_contact_duration_seconds", Help: "Time from arrive to leave of served contacts.",
			Buckets: []float64{10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 900, 1800},
		}, sse),
		Ratings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contactd_ratings_total",
			Help: "Ratings joined to a contact, by scale and value, the set they put it in and their box (top, bottom or middle).",
		}, append(sse, "scale", "value", "set", "box")),
		OrphanRatings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contactd_orphan_ratings_total", Help: "Ratings that matched no contact (kept and listed).",
		}, sse),
		Disagreements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contactd_presence_disagreements_total",
			Help: "Contacts a station's presence sensor and its voices disagree on (presence: both): sensor_missed, not_heard, sensor_stuck.",
		}, append(sse, "kind")),
		PassBys: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contactd_pass_bys_total", Help: "Presences shorter than min_contact.",
		}, sse),
		Flags: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contactd_contact_flags_total", Help: "Contacts flagged for review, by flag.",
		}, append(sse, "flag")),
		IgnoredLeaves: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contactd_ignored_leaves_total", Help: "Leave events with no open contact.",
		}, []string{"site", "station"}),
		ClipCut: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "contactd_clip_cut_seconds", Help: "Time to cut and store one clip.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"site", "station"}),
		RejectedInput: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contactd_rejected_input_lines_total", Help: "Input lines rejected as malformed, by kind.",
		}, []string{"site", "kind"}),
	}
	reg.MustRegister(p.Contacts, p.ContactDuration, p.Ratings, p.OrphanRatings, p.Disagreements, p.PassBys, p.Flags, p.IgnoredLeaves,
		p.ClipCut, p.RejectedInput)
	p.Consult = newConsult()
	p.Consult.register(reg)
	return p
}

func (p *Pipeline) rules() contact.SetRules {
	if p.Rules == nil {
		return contact.DefaultSetRules()
	}
	return p.Rules
}

func (p *Pipeline) employee(station string, at time.Time) string {
	if p.EmployeeOf == nil {
		return ""
	}
	return p.EmployeeOf(station, at)
}

// box names a press's box for the indices.
func box(r contact.SetRules, pr *contact.Press) string {
	switch {
	case r.TopBox(pr):
		return "top"
	case r.BottomBox(pr):
		return "bottom"
	}
	return "middle"
}

// ObserveResult counts a segmenter result of one site. A contact's
// employee is its own (set by the live engine) or the one on shift at its
// arrival.
func (p *Pipeline) ObserveResult(site string, r *segmenter.Result) {
	rules := p.rules()
	for _, c := range r.Contacts {
		emp := c.Employee
		if emp == "" {
			emp = p.employee(c.Station, c.Arrive)
		}
		p.InitStation(site, c.Station, emp)
		p.Contacts.WithLabelValues(site, c.Station, emp, string(c.Set)).Inc()
		p.ContactDuration.WithLabelValues(site, c.Station, emp).Observe(c.Duration().Seconds())
		if c.Rating != nil {
			p.Ratings.WithLabelValues(site, c.Station, emp, string(c.Rating.Scale), strconv.Itoa(c.Rating.Value),
				string(rules.SetOf(c.Rating)), box(rules, c.Rating)).Inc()
		}
		for _, f := range c.Flags {
			p.Flags.WithLabelValues(site, c.Station, emp, string(f)).Inc()
		}
		p.Consult.Observe(site, c)
	}
	for _, pb := range r.PassBys {
		p.PassBys.WithLabelValues(site, pb.Station, p.employee(pb.Station, pb.Arrive)).Inc()
	}
	for _, o := range r.Orphans {
		p.OrphanRatings.WithLabelValues(site, o.Station, p.employee(o.Station, o.At)).Inc()
	}
	for _, e := range r.IgnoredLeaves {
		p.IgnoredLeaves.WithLabelValues(site, e.Station).Inc()
	}
}

// InitStation creates a station's series for an employee at zero, so that
// a rate over something that has not happened yet is 0 rather than
// missing.
func (p *Pipeline) InitStation(site, station, employee string) {
	rules := p.rules()
	for _, set := range contact.Sets {
		p.Contacts.WithLabelValues(site, station, employee, string(set))
	}
	for scale, rule := range rules {
		for _, vs := range [][]int{rule.Negative, rule.Neutral, rule.Positive} {
			for _, v := range vs {
				pr := &contact.Press{Scale: scale, Value: v}
				p.Ratings.WithLabelValues(site, station, employee, string(scale), strconv.Itoa(v), string(rules.SetOf(pr)), box(rules, pr))
			}
		}
	}
	for _, f := range []contact.Flag{contact.FlagLeaveMissing, contact.FlagMisuse, contact.FlagNoMedia} {
		p.Flags.WithLabelValues(site, station, employee, string(f))
	}
	p.ContactDuration.WithLabelValues(site, station, employee)
	p.PassBys.WithLabelValues(site, station, employee)
	p.OrphanRatings.WithLabelValues(site, station, employee)
	p.IgnoredLeaves.WithLabelValues(site, station)
}

// Ingest counts the health of the live media path. Unknown stations are
// counted under station="" so their names cannot grow the label set.
type Ingest struct {
	site string
	// Known, if set, says which stations are configured; others count as "".
	Known          func(station string) bool
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
	m.StreamUp.WithLabelValues(m.site, m.station(station)).Set(v)
}

// AddPacketsLost counts missing RTP packets.
func (m *Ingest) AddPacketsLost(station string, n int) {
	m.PacketsLost.WithLabelValues(m.site, m.station(station)).Add(float64(n))
}

// AddRejected counts a refused request or message.
func (m *Ingest) AddRejected(station, reason string) {
	m.Rejected.WithLabelValues(m.site, m.station(station), reason).Inc()
}

// AddDropped counts a unit dropped at stage.
func (m *Ingest) AddDropped(station, stage string) {
	m.Dropped.WithLabelValues(m.site, m.station(station), stage).Inc()
}

// station keeps a name from a request out of the labels unless it is a
// configured station's.
func (m *Ingest) station(s string) string {
	if m.Known != nil && !m.Known(s) {
		return ""
	}
	return s
}
