// Package vad finds speech in 16 kHz mono audio, offline (Detect) or as a
// stream that cuts utterances for a recogniser (Stream). Pure Go.
//
// A plain energy threshold cannot tell a talker from a noisy microphone: a
// participant's open microphone hissing at −44 dBFS is as "loud" as soft
// speech. This detector keys on voicing instead. Every 10 ms it measures
//
//   - energy (dBFS, 32 ms window) and an adaptive noise floor: the minimum
//     of the 50 ms-smoothed energy over the last 2 s, ignoring digital
//     silence, so the floor jumps to a noise the moment it starts;
//   - harmonicity (64 ms window): the normalised autocorrelation, at lags of
//     2 to 12.5 ms (80-500 Hz voices), of the spectrum between 50 Hz and
//     4 kHz divided by its own ±250 Hz average. Evenly spaced harmonics
//     score 0.3 to 0.9; white, pink or brown noise, fans and breath score
//     about 0.1-0.2 whatever their level or colour.
//
// Speech regions are seeded by voiced frames (harmonicity above threshold
// and energy well above the floor), confirmed once they hold a few voiced
// frames, grown by at most 0.25 s on each side over frames still above the
// floor (unvoiced onsets and tails: "f", "s", "t"), and merged across pauses
// shorter than 0.3 s, the NIST convention the reference RTTMs also follow.
package vad

import (
	"math"
)

// Config holds the detector's parameters. Durations are in seconds.
type Config struct {
	// VoicedThreshold is the harmonicity a frame needs to seed speech.
	VoicedThreshold float64
	// MinVoiced is the number of voiced frames (10 ms) that confirm a
	// region as speech; fewer is a click or a tonal blip.
	MinVoiced int
	// SeedMarginDB: a voiced frame seeds speech only this far above the
	// noise floor; GrowMarginDB: a region grows over frames whose smoothed
	// energy is this far above the floor.
	SeedMarginDB, GrowMarginDB float64
	// MinEnergyDB is the quietest a seed frame may be (dBFS).
	MinEnergyDB float64
	// MaxGrow bounds the unvoiced extension on each side of voiced speech.
	MaxGrow float64
	// MinGap: pauses shorter than this do not split a region.
	MinGap float64
	// FloorWindow is the span over which the noise floor is the minimum.
	FloorWindow float64
	// MaxUtterance, if > 0, makes Stream cut a region longer than this at
	// its next pause (a frame near the noise floor), and anyway at
	// MaxUtterance + 5 s, so a recogniser gets bounded utterances.
	MaxUtterance float64
}

// DefaultConfig suits a near-field track: one participant's own
// microphone, where speech is 20 dB or more above the noise.
func DefaultConfig() Config {
	return Config{
		VoicedThreshold: 0.28,
		MinVoiced:       3,
		SeedMarginDB:    4,
		GrowMarginDB:    3,
		MinEnergyDB:     -60,
		MaxGrow:         0.25,
		MinGap:          0.3,
		FloorWindow:     2,
		MaxUtterance:    15,
	}
}

// FarFieldConfig suits one microphone hearing several people (a meeting
// room, or a mixed recording for diarization): distant talkers are quieter
// and less harmonic (reverberation), so the margins are lower; utterances
// are not cut, since diarization wants whole regions.
func FarFieldConfig() Config {
	c := DefaultConfig()
	c.VoicedThreshold = 0.26
	c.SeedMarginDB = 3
	c.GrowMarginDB = 3
	c.MinEnergyDB = -65
	c.MaxUtterance = 0
	return c
}

// Segment is a speech region in seconds from the start of the input.
type Segment struct{ Start, End float64 }

// Kind tells whether an Event starts or ends speech.
type Kind int

// Event kinds.
const (
	SpeechStart Kind = iota + 1
	SpeechEnd
)

func (k Kind) String() string {
	switch k {
	case SpeechStart:
		return "speech-start"
	case SpeechEnd:
		return "speech-end"
	}
	return "unknown"
}

// Event marks the start or end of a speech region. At is in seconds since
// the stream's first sample; it lies in the past when the event is
// returned (see Stream).
type Event struct {
	Kind Kind
	At   float64
}

// Detect returns the speech regions of 16 kHz mono samples.
func Detect(samples []float32, cfg Config) []Segment {
	s := NewStream(cfg)
	evs := s.Write(samples)
	evs = append(evs, s.Flush()...)
	return Segments(evs)
}

// Segments pairs start and end events into segments.
func Segments(evs []Event) []Segment {
	var out []Segment
	start := -1.0
	for _, e := range evs {
		switch e.Kind {
		case SpeechStart:
			start = e.At
		case SpeechEnd:
			if start >= 0 && e.At > start {
				out = append(out, Segment{start, e.At})
			}
			start = -1
		}
	}
	return out
}

// floorSilenceDB: frames quieter than this are digital silence (a muted or
// gated track) and say nothing about the microphone's noise.
const floorSilenceDB = -85

var floorSilenceLin = math.Pow(10, floorSilenceDB/10.0)

// floorDefaultDB is the floor when the window holds only digital silence.
const floorDefaultDB = -90

// smoothFrames: the floor tracks energy averaged over 5 frames (50 ms), so
// one quiet frame inside a word does not drag it down.
const smoothFrames = 5

// Stream is a streaming speech detector and utterance cutter. Write
// 16 kHz mono samples as they arrive; it returns the events decided so
// far. A SpeechStart is returned about 70 ms after the first voiced frame
// (MinVoiced frames plus the analysis window's 37 ms lookahead; its At lies
// up to MaxGrow earlier, where the unvoiced onset began); a
// SpeechEnd up to MinGap + MaxGrow + 0.05 s (0.6 s by default) after its
// At, once no later speech can bridge the pause. A caller cutting audio
// for a recogniser keeps about one second of history. Not safe for
// concurrent use; no goroutines.
type Stream struct {
	cfg Config
	an  *analyzer
	fr  []frame

	maxGrow, minGap, floorWin, maxUtt int // in frames

	// Per-frame history (ring buffers indexed by frame number mod len).
	energy, smooth, floor []float64
	voiced, grow          []bool
	lin                   []float64 // linear power of the last smoothFrames frames
	minq                  []floorEntry
	n                     int // frames processed

	inSeg     bool
	confirmed bool
	segStart  int
	voicedN   int
	lastVoice int
	tailEnd   int // exclusive frame index where the region currently ends
	growing   bool
	prevEnd   int // end of the previous region (regions never overlap)
}

type floorEntry struct {
	frame int
	db    float64
}

// NewStream returns a Stream with the given configuration.
func NewStream(cfg Config) *Stream {
	toF := func(sec float64) int { return int(math.Round(sec / FrameDuration)) }
	s := &Stream{cfg: cfg, an: newAnalyzer(),
		maxGrow: toF(cfg.MaxGrow), minGap: toF(cfg.MinGap), floorWin: max(1, toF(cfg.FloorWindow)),
		maxUtt: toF(cfg.MaxUtterance)}
	h := s.maxGrow + 2
	s.energy, s.smooth, s.floor = make([]float64, h), make([]float64, h), make([]float64, h)
	s.voiced, s.grow = make([]bool, h), make([]bool, h)
	s.lin = make([]float64, smoothFrames)
	return s
}

// Write consumes samples and returns the events they decide.
func (s *Stream) Write(samples []float32) []Event {
	s.fr = s.an.write(samples, s.fr[:0])
	var evs []Event
	for _, f := range s.fr {
		evs = s.step(f, evs)
	}
	return evs
}

// Flush ends the stream: the last samples are analysed and an open region
// is closed. The Stream must not be written to afterwards.
func (s *Stream) Flush() []Event {
	s.fr = s.an.flush(s.fr[:0])
	var evs []Event
	for _, f := range s.fr {
		evs = s.step(f, evs)
	}
	if s.inSeg {
		evs = s.closeSeg(evs)
	}
	return evs
}

// InSpeech reports whether a confirmed region is open.
func (s *Stream) InSpeech() bool { return s.inSeg && s.confirmed }

func (s *Stream) at(frame int) float64 { return float64(frame) * FrameDuration }

// step runs the detector on one frame.
func (s *Stream) step(f frame, evs []Event) []Event {
	i := s.n
	s.n++
	h := len(s.energy)
	k := i % h

	// Smoothed energy and the noise floor (sliding-window minimum with a
	// monotonic queue: amortised O(1) per frame).
	s.lin[i%smoothFrames] = math.Pow(10, f.energy/10)
	var sum float64
	cnt := min(i+1, smoothFrames)
	silent := false
	for j := range cnt {
		sum += s.lin[j]
		silent = silent || s.lin[j] < floorSilenceLin
	}
	sm := 10 * math.Log10(sum/float64(cnt))
	// A smoothing window that includes digital silence (a gate opening)
	// underestimates the noise; only fully non-silent windows count.
	if !silent {
		for len(s.minq) > 0 && s.minq[len(s.minq)-1].db >= sm {
			s.minq = s.minq[:len(s.minq)-1]
		}
		s.minq = append(s.minq, floorEntry{i, sm})
	}
	for len(s.minq) > 0 && s.minq[0].frame <= i-s.floorWin {
		s.minq = s.minq[1:]
	}
	fl := float64(floorDefaultDB)
	if len(s.minq) > 0 {
		fl = max(fl, s.minq[0].db)
	}
	s.energy[k], s.smooth[k], s.floor[k] = f.energy, sm, fl
	s.voiced[k] = f.cpp >= s.cfg.VoicedThreshold && f.energy >= fl+s.cfg.SeedMarginDB && f.energy >= s.cfg.MinEnergyDB
	s.grow[k] = s.voiced[k] || (f.energy > floorSilenceDB && sm >= fl+s.cfg.GrowMarginDB)

	if !s.inSeg {
		if s.voiced[k] {
			evs = s.open(i, s.backGrow(i, s.prevEnd), evs)
		}
		return evs
	}
	if s.voiced[k] {
		if b := s.backGrow(i, s.tailEnd); b-s.tailEnd > s.minGap {
			// Too long a pause since the region's end: a new region.
			evs = s.closeSeg(evs)
			evs = s.open(i, b, evs)
		} else {
			s.voicedN++
			s.lastVoice, s.tailEnd, s.growing = i, i+1, true
		}
		if !s.confirmed && s.voicedN >= s.cfg.MinVoiced {
			s.confirmed = true
			evs = append(evs, Event{SpeechStart, s.at(s.segStart)})
		}
	} else if s.growing && s.grow[k] && i-s.lastVoice <= s.maxGrow {
		s.tailEnd = i + 1
	} else {
		s.growing = false
	}

	if s.confirmed && s.maxUtt > 0 {
		long := i - s.segStart
		switch {
		case long >= s.maxUtt+500:
			// No pause for 5 s past the limit: cut here and go on.
			evs = append(evs, Event{SpeechEnd, s.at(i + 1)}, Event{SpeechStart, s.at(i + 1)})
			s.segStart = i + 1
		case long >= s.maxUtt && !s.grow[k]:
			// The first pause frame after the limit.
			s.tailEnd = i + 1
			evs = s.closeSeg(evs)
			return evs
		}
	}
	if i-s.tailEnd >= s.minGap+s.maxGrow {
		// No later seed can grow back far enough to bridge the pause.
		evs = s.closeSeg(evs)
	}
	return evs
}

// open starts a candidate region at frame start, seeded by voiced frame i.
func (s *Stream) open(i, start int, evs []Event) []Event {
	s.inSeg, s.confirmed = true, false
	s.segStart, s.voicedN, s.lastVoice, s.tailEnd, s.growing = start, 1, i, i+1, true
	if s.cfg.MinVoiced <= 1 {
		s.confirmed = true
		evs = append(evs, Event{SpeechStart, s.at(start)})
	}
	return evs
}

// closeSeg ends the open region; an unconfirmed one vanishes silently.
func (s *Stream) closeSeg(evs []Event) []Event {
	if s.confirmed {
		evs = append(evs, Event{SpeechEnd, s.at(s.tailEnd)})
	}
	s.prevEnd = s.tailEnd
	s.inSeg, s.confirmed = false, false
	return evs
}

// backGrow returns where a region seeded at frame i starts: it extends back
// over growing frames, at most maxGrow frames and never before limit.
func (s *Stream) backGrow(i, limit int) int {
	h := len(s.energy)
	b := i
	for j := i - 1; j >= max(limit, i-s.maxGrow, 0, s.n-h); j-- {
		if !s.grow[j%h] {
			break
		}
		b = j
	}
	return b
}
