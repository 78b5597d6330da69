package pipeline

import (
	"context"
	"errors"
	"time"

	"contactd/classifier/vision"
	"contactd/contact"
	"contactd/presence"
)

// VideoEvents finds presence from a recording's camera: someone in the
// patient zone (cfg), as presence events marked source auto.
func VideoEvents(ctx context.Context, media, station string, start time.Time, cfg presence.VideoConfig) ([]contact.Event, error) {
	if !cfg.Zone.On() {
		return nil, errors.New("presence from the camera: no patient zone configured (presence.video.zone)")
	}
	d := presence.NewVideoDetector(cfg, station)
	var evs []contact.Event
	var last time.Duration
	// 160 pixels wide is plenty to see a person in a zone, and cheap.
	err := vision.ReadFrames(ctx, media, cfg.FPS, 160, func(at time.Duration, grey []byte, w, h int) error {
		evs = append(evs, d.Push(start.Add(at), grey, w, h)...)
		last = at
		return nil
	})
	if err != nil {
		return nil, err
	}
	return append(evs, d.Flush(start.Add(last))...), nil
}
