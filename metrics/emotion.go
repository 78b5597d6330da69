package metrics

import "github.com/prometheus/client_golang/prometheus"

// Emotion counts what the voice path hears. Labels are bounded by the
// configuration (site, station, employee) and fixed lists (speaker,
// modality, emotion).
type Emotion struct {
	site string
	// Speech: seconds of speech by whose it was (employee, patient, or
	// unattributed when no employee voice is enrolled).
	Speech *prometheus.CounterVec
	// EmployeeEmotion: seconds of the employee's speech by emotion class.
	EmployeeEmotion *prometheus.CounterVec
	Arousal         *prometheus.HistogramVec
	Valence         *prometheus.HistogramVec
	// PatientNegative: per contact, the share of the patient's speech that
	// was sad or angry.
	PatientNegative *prometheus.HistogramVec
	// FaceSeen and Smile: seconds the employee's face was seen by the desk
	// camera, and of those the seconds it smiled (smile share = Smile / FaceSeen).
	FaceSeen *prometheus.CounterVec
	Smile    *prometheus.CounterVec
}

// FaceClasses are the emotion label values of modality="face".
var FaceClasses = []string{"neutral", "happy", "sad", "angry", "fear", "disgust", "surprise"}

// EmotionClasses are the emotion label values.
var EmotionClasses = []string{"neutral", "happy", "sad", "angry"}

// Speakers are the speaker label values.
var Speakers = []string{"employee", "patient", "unattributed"}

// NewEmotion registers the emotion metrics on reg.
func NewEmotion(reg prometheus.Registerer, site string) *Emotion {
	sse := []string{"site", "station", "employee"}
	scale := []float64{-0.8, -0.6, -0.4, -0.2, 0, 0.2, 0.4, 0.6, 0.8, 1}
	m := &Emotion{
		site: site,
		Speech: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contactd_speech_seconds_total", Help: "Seconds of speech heard at a station, by speaker.",
		}, append(sse, "speaker")),
		EmployeeEmotion: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contactd_employee_emotion_seconds_total",
			Help: "Seconds of the employee's speech by emotion class and modality (voice).",
		}, append(sse, "modality", "emotion")),
		Arousal: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "contactd_employee_arousal", Help: "Arousal of each second of the employee's speech, -1 (calm) to 1 (aroused).",
			Buckets: scale,
		}, append(sse, "modality")),
		Valence: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "contactd_employee_valence", Help: "Valence of each second of the employee's speech, -1 (negative) to 1 (positive).",
			Buckets: scale,
		}, append(sse, "modality")),
		PatientNegative: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "contactd_contact_patient_negative_share", Help: "Per contact, the share of the patient's speech that was sad or angry.",
			Buckets: []float64{0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1},
		}, sse),
	}
	m.FaceSeen = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "contactd_employee_face_seen_seconds_total", Help: "Seconds the desk camera saw the employee's face.",
	}, sse)
	m.Smile = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "contactd_employee_smile_seconds_total", Help: "Seconds the employee's face smiled (smile probability over one half).",
	}, sse)
	reg.MustRegister(m.Speech, m.EmployeeEmotion, m.Arousal, m.Valence, m.PatientNegative, m.FaceSeen, m.Smile)
	return m
}

// InitStation creates a station's series at zero.
func (m *Emotion) InitStation(station, employee string) {
	for _, s := range Speakers {
		m.Speech.WithLabelValues(m.site, station, employee, s)
	}
	for _, e := range EmotionClasses {
		m.EmployeeEmotion.WithLabelValues(m.site, station, employee, "voice", e)
	}
	m.Arousal.WithLabelValues(m.site, station, employee, "voice")
	m.Valence.WithLabelValues(m.site, station, employee, "voice")
	m.PatientNegative.WithLabelValues(m.site, station, employee)
	for _, e := range FaceClasses {
		m.EmployeeEmotion.WithLabelValues(m.site, station, employee, "face", e)
	}
	m.Arousal.WithLabelValues(m.site, station, employee, "face")
	m.Valence.WithLabelValues(m.site, station, employee, "face")
	m.FaceSeen.WithLabelValues(m.site, station, employee)
	m.Smile.WithLabelValues(m.site, station, employee)
}

// ObserveFace counts one look at the employee's face standing for seconds
// of time: its expression, valence and arousal, and whether it smiled.
func (m *Emotion) ObserveFace(station, employee string, seconds float64, expression string, happy, arousal, valence float64) {
	if seconds <= 0 || !contains(FaceClasses, expression) {
		return
	}
	m.FaceSeen.WithLabelValues(m.site, station, employee).Add(seconds)
	if happy > 0.5 {
		m.Smile.WithLabelValues(m.site, station, employee).Add(seconds)
	}
	m.EmployeeEmotion.WithLabelValues(m.site, station, employee, "face", expression).Add(seconds)
	m.Arousal.WithLabelValues(m.site, station, employee, "face").Observe(arousal)
	m.Valence.WithLabelValues(m.site, station, employee, "face").Observe(valence)
}

// ObserveSecond counts one second read by the voice path: speech seconds
// by speaker; for the employee's speech, its emotion, arousal and valence.
// An unknown speaker or emotion is ignored rather than becoming a label.
func (m *Emotion) ObserveSecond(station, employee, speaker string, speech float64, emotion string, arousal, valence float64) {
	if speech <= 0 || !contains(Speakers, speaker) {
		return
	}
	m.Speech.WithLabelValues(m.site, station, employee, speaker).Add(speech)
	if speaker != "employee" || !contains(EmotionClasses, emotion) {
		return
	}
	m.EmployeeEmotion.WithLabelValues(m.site, station, employee, "voice", emotion).Add(speech)
	m.Arousal.WithLabelValues(m.site, station, employee, "voice").Observe(arousal)
	m.Valence.WithLabelValues(m.site, station, employee, "voice").Observe(valence)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
