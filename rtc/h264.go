package rtc

import "errors"

// NAL unit types (ITU-T H.264 table 7-1) that matter here.
const (
	NALSlice = 1
	NALIDR   = 5
	NALSPS   = 7
	NALPPS   = 8
)

// SplitAnnexB returns the NAL units of an Annex B byte stream (start codes
// 00 00 01 or 00 00 00 01), without their start codes.
func SplitAnnexB(b []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i+2 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				end := i
				if end > start && b[end-1] == 0 {
					end-- // the 4-byte start code's leading zero
				}
				out = append(out, b[start:end])
			}
			start = i + 3
			i += 2
		}
	}
	if start >= 0 && start < len(b) {
		out = append(out, b[start:])
	}
	return out
}

// H264Keyframe reports whether an access unit holds an IDR slice.
func H264Keyframe(au []byte) bool {
	for _, n := range SplitAnnexB(au) {
		if len(n) > 0 && n[0]&0x1f == NALIDR {
			return true
		}
	}
	return false
}

// H264ParamSets returns the SPS and PPS of an access unit, if it carries them.
func H264ParamSets(au []byte) (sps, pps []byte) {
	for _, n := range SplitAnnexB(au) {
		if len(n) == 0 {
			continue
		}
		switch n[0] & 0x1f {
		case NALSPS:
			sps = n
		case NALPPS:
			pps = n
		}
	}
	return sps, pps
}

// bitReader reads an RBSP (emulation prevention bytes removed) bit by bit.
type bitReader struct {
	b   []byte
	pos int
	err error
}

func (r *bitReader) bit() uint {
	if r.pos >= 8*len(r.b) {
		r.err = errors.New("h264: SPS too short")
		return 0
	}
	v := r.b[r.pos/8] >> (7 - r.pos%8) & 1
	r.pos++
	return uint(v)
}

func (r *bitReader) bits(n int) uint {
	var v uint
	for i := 0; i < n; i++ {
		v = v<<1 | r.bit()
	}
	return v
}

// ue reads an unsigned Exp-Golomb code (H.264 §9.1).
func (r *bitReader) ue() uint {
	zeros := 0
	for r.bit() == 0 && r.err == nil && zeros < 32 {
		zeros++
	}
	return (1<<zeros - 1) + r.bits(zeros)
}

func (r *bitReader) se() int {
	v := r.ue()
	if v%2 == 1 {
		return int(v+1) / 2
	}
	return -int(v / 2)
}

func unescape(nal []byte) []byte {
	out := make([]byte, 0, len(nal))
	for i := 0; i < len(nal); i++ {
		if i+2 < len(nal) && nal[i] == 0 && nal[i+1] == 0 && nal[i+2] == 3 {
			out = append(out, 0, 0)
			i += 2
			continue
		}
		out = append(out, nal[i])
	}
	return out
}

// H264Size reads the picture size from an SPS NAL unit (H.264 §7.3.2.1.1).
func H264Size(sps []byte) (w, h int, err error) {
	if len(sps) < 4 || sps[0]&0x1f != NALSPS {
		return 0, 0, errors.New("h264: not an SPS")
	}
	r := &bitReader{b: unescape(sps[1:])}
	profile := r.bits(8)
	r.bits(16) // constraint flags, level
	r.ue()     // seq_parameter_set_id
	chroma := uint(1)
	switch profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		chroma = r.ue()
		if chroma == 3 {
			r.bit() // separate_colour_plane_flag
		}
		r.ue()            // bit_depth_luma_minus8
		r.ue()            // bit_depth_chroma_minus8
		r.bit()           // qpprime_y_zero_transform_bypass_flag
		if r.bit() == 1 { // seq_scaling_matrix_present_flag
			lists := 8
			if chroma == 3 {
				lists = 12
			}
			for i := 0; i < lists; i++ {
				if r.bit() == 1 {
					size, last, next := 16, 8, 8
					if i >= 6 {
						size = 64
					}
					for j := 0; j < size; j++ {
						if next != 0 {
							next = (last + r.se() + 256) % 256
						}
						if next != 0 {
							last = next
						}
					}
				}
			}
		}
	}
	r.ue()          // log2_max_frame_num_minus4
	switch r.ue() { // pic_order_cnt_type
	case 0:
		r.ue()
	case 1:
		r.bit()
		r.se()
		r.se()
		for n := r.ue(); n > 0 && r.err == nil; n-- {
			r.se()
		}
	}
	r.ue() // max_num_ref_frames
	r.bit()
	wmbs := r.ue() + 1
	hmaps := r.ue() + 1
	frameMbsOnly := r.bit()
	if frameMbsOnly == 0 {
		r.bit()
	}
	r.bit() // direct_8x8_inference_flag
	var cl, cr, ct, cb uint
	if r.bit() == 1 {
		cl, cr, ct, cb = r.ue(), r.ue(), r.ue(), r.ue()
	}
	if r.err != nil {
		return 0, 0, r.err
	}
	cropX, cropY := uint(1), 2-frameMbsOnly
	if chroma == 1 {
		cropX, cropY = 2, 2*(2-frameMbsOnly)
	} else if chroma == 2 {
		cropX, cropY = 2, 2-frameMbsOnly
	}
	w = int(wmbs*16 - cropX*(cl+cr))
	h = int((2-frameMbsOnly)*hmaps*16 - cropY*(ct+cb))
	if w <= 0 || h <= 0 {
		return 0, 0, errors.New("h264: bad picture size in SPS")
	}
	return w, h, nil
}
