package diarize

import (
	"slices"
)

// Speech activity: an energy detector (interim, until the speech package's
// VAD lands) followed by a voicing check that is specific to mixed meeting
// audio: a region must hold voiced frames, and is trimmed to them.

// energySpeech marks frames whose energy is 10 dB above the noise floor
// (the 10th percentile of frame energies), then bridges and filters.
func energySpeech(a *analysis, p *params) []span {
	if a.n == 0 {
		return nil
	}
	es := slices.Clone(a.energy)
	slices.Sort(es)
	floor := es[len(es)/10]
	th := max(floor+10, -70)
	var out []span
	start := -1
	for t := 0; t <= a.n; t++ {
		on := t < a.n && a.energy[t] > th
		if on && start < 0 {
			start = t
		}
		if !on && start >= 0 {
			out = append(out, span{start, t})
			start = -1
		}
	}
	return bridge(out, p.bridgeFrames, p.minSpeechFrames)
}

// bridge joins spans closer than gap frames and drops those shorter than
// minLen.
func bridge(in []span, gap, minLen int) []span {
	var out []span
	for _, s := range in {
		if k := len(out) - 1; k >= 0 && s.start-out[k].end < gap {
			out[k].end = s.end
			continue
		}
		out = append(out, s)
	}
	return slices.DeleteFunc(out, func(s span) bool { return s.len() < minLen })
}

// voicedOnly keeps the parts of the regions that hold voiced frames:
// regions without any are dropped, the others are trimmed to p.voicePad
// frames around their voiced frames and cut where voicing stops for more
// than p.maxUnvoicedRun frames.
func voicedOnly(a *analysis, in []span, p *params) []span {
	var out []span
	for _, s := range in {
		first, last := -1, -1
		for t := s.start; t < s.end; t++ {
			if a.voicing[t] < p.voicedCPP {
				continue
			}
			if first < 0 {
				first = t
			} else if t-last > p.maxUnvoicedRun {
				out = append(out, span{max(s.start, first-p.voicePad), min(s.end, last+p.voicePad)})
				first = t
			}
			last = t
		}
		if first >= 0 {
			out = append(out, span{max(s.start, first-p.voicePad), min(s.end, last+1+p.voicePad)})
		}
	}
	return bridge(out, p.bridgeFrames, p.minSpeechFrames)
}
