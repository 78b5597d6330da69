package main

import (
	"strings"
	"testing"
	"time"

	"contactd/appointments"
	"contactd/contact"
	"contactd/pipeline"
)

// TestPrintRoomMicrophones: the printed report says when a consultation's
// counts are estimates — heard on one microphone, or on two that hardly
// tell the voices apart — and stays quiet when they are sure.
func TestPrintRoomMicrophones(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	consultation := func(id string, mics int, sep float64) *contact.Contact {
		return &contact.Contact{ID: id, Arrive: t0, Leave: t0.Add(10 * time.Minute), Employee: "dr-orlova",
			Appointment:  &contact.Appointment{ID: id},
			Conversation: &contact.Conversation{Turns: 12, DoctorShare: 0.5, Microphones: mics, MicSeparation: sep}}
	}
	for _, tc := range []struct {
		name     string
		contacts []*contact.Contact
		want     []string
		not      []string
	}{
		{"lapel", []*contact.Contact{consultation("A-001", 2, 18)}, nil, []string{"estimate"}},
		{"desk", []*contact.Contact{consultation("A-001", 2, 18), consultation("A-002", 2, 7.5)},
			[]string{"warning: A-002: the two microphones put the voices only 8 dB apart"}, []string{"A-001: the two", "note:"}},
		{"one", []*contact.Contact{consultation("A-001", 1, 0)}, []string{"note: turns and interruptions heard on one microphone are estimates"}, []string{"warning:"}},
	} {
		var b strings.Builder
		printRoom(&b, &pipeline.Report{Contacts: tc.contacts, NoShows: []appointments.Appointment{}})
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: no %q in\n%s", tc.name, w, b.String())
			}
		}
		for _, w := range tc.not {
			if strings.Contains(b.String(), w) {
				t.Errorf("%s: %q in\n%s", tc.name, w, b.String())
			}
		}
	}
}
