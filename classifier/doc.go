// Package classifier holds contactd's emotion models: voice activity, voice
// emotion and face expression, all inferred in pure Go.
package classifier
