package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"contactd/contact"
)

// Trends are the patient emotion trends a consultation is counted under.
var Trends = []string{"improving", "steady", "worsening", "unknown"}

// Consult is the doctor–patient communication of consultations, per
// doctor: histograms so that a clinic sees each doctor's distribution
// (how often they let the patient speak, interrupt, lecture).
type Consult struct {
	DoctorShare      *prometheus.HistogramVec
	Turns            *prometheus.HistogramVec
	Interruptions    *prometheus.HistogramVec
	LongestMonologue *prometheus.HistogramVec
	LongestSilence   *prometheus.HistogramVec
	SpeechRate       *prometheus.HistogramVec
	PatientFirstSay  *prometheus.HistogramVec
	PatientTrend     *prometheus.CounterVec
	NoShows          *prometheus.CounterVec
}

func newConsult() *Consult {
	sse := []string{"site", "station", "employee"}
	h := func(name, help string, buckets []float64, extra ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, append(sse[:3:3], extra...))
	}
	return &Consult{
		DoctorShare: h("contactd_consult_doctor_talk_share", "Per consultation, the doctor's share of all speech (0..1).",
			[]float64{0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}),
		Turns: h("contactd_consult_turns", "Per consultation, the number of speaking turns.",
			[]float64{2, 4, 8, 16, 32, 64, 128}),
		Interruptions: h("contactd_consult_interruptions", "Per consultation, interruptions by who interrupted (speaker=employee: the doctor cut in).",
			[]float64{0, 1, 2, 3, 5, 8, 13}, "speaker"),
		LongestMonologue: h("contactd_consult_longest_monologue_seconds", "Per consultation, the doctor's longest turn.",
			[]float64{5, 10, 20, 30, 60, 120, 300}),
		LongestSilence: h("contactd_consult_longest_silence_seconds", "Per consultation, the longest silence.",
			[]float64{2, 5, 10, 20, 30, 60, 120}),
		SpeechRate: h("contactd_consult_speech_rate_syllables_per_second", "Per consultation, each speaker's speech rate.",
			[]float64{2, 3, 4, 5, 6, 7, 8}, "speaker"),
		PatientFirstSay: h("contactd_consult_patient_first_say_seconds", "Per consultation, seconds from the start until the patient began a turn nobody cut short.",
			[]float64{5, 10, 20, 30, 60, 120, 300}),
		PatientTrend: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contactd_consult_patient_trend_total", Help: "Consultations by the patient's voice trend from start to end."}, append(sse[:3:3], "trend")),
		NoShows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contactd_consult_no_shows_total", Help: "Appointments nobody came to."}, sse),
	}
}

func (m *Consult) register(reg prometheus.Registerer) {
	reg.MustRegister(m.DoctorShare, m.Turns, m.Interruptions, m.LongestMonologue, m.LongestSilence, m.SpeechRate,
		m.PatientFirstSay, m.PatientTrend, m.NoShows)
}

// Observe counts one consultation's conversation.
func (m *Consult) Observe(site string, c *contact.Contact) {
	v := c.Conversation
	if v == nil {
		return
	}
	l := []string{site, c.Station, c.Employee}
	if v.DoctorSeconds+v.PatientSeconds > 0 {
		m.DoctorShare.WithLabelValues(l...).Observe(v.DoctorShare)
	}
	m.Turns.WithLabelValues(l...).Observe(float64(v.Turns))
	m.Interruptions.WithLabelValues(site, c.Station, c.Employee, "employee").Observe(float64(v.DoctorInterruptions))
	m.Interruptions.WithLabelValues(site, c.Station, c.Employee, "patient").Observe(float64(v.PatientInterruptions))
	m.LongestMonologue.WithLabelValues(l...).Observe(v.LongestMonologue)
	m.LongestSilence.WithLabelValues(l...).Observe(v.LongestSilence)
	if v.DoctorSeconds > 0 {
		m.SpeechRate.WithLabelValues(site, c.Station, c.Employee, "employee").Observe(v.DoctorRate)
	}
	if v.PatientSeconds > 0 {
		m.SpeechRate.WithLabelValues(site, c.Station, c.Employee, "patient").Observe(v.PatientRate)
	}
	if v.PatientFirstSay >= 0 {
		m.PatientFirstSay.WithLabelValues(l...).Observe(v.PatientFirstSay)
	}
	trend := v.PatientTrend
	if !contains(Trends, trend) {
		trend = "unknown"
	}
	m.PatientTrend.WithLabelValues(site, c.Station, c.Employee, trend).Inc()
}
