// Package capture is the desk side of contactd: microphone (PortAudio) and
// camera capture, Opus/VP8 encoding and the WHIP publisher of contact-agent.
package capture
