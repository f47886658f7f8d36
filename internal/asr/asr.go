// Package asr is the seam between audio and text: the Engine interface that
// every speech recogniser implements, and the result types they share.
//
// An Engine recognises one utterance at a time per Stream: the caller (the
// transcript pipeline, which runs its own VAD) opens a Stream when speech
// starts, writes 16 kHz mono float32 samples while it lasts, asks for partial
// hypotheses as it goes, and calls Final when the speech ends. Word times in a
// Result are seconds from the first sample written to that Stream, so the
// caller places them on the meeting clock by adding the utterance's start.
//
// Engines live in sub-packages (asr/pocketsphinx, asr/openai) so that a
// build which only needs one does not link the other's dependencies.
package asr

import (
	"context"
	"errors"
	"strings"
)

// SampleRate is the only input rate engines accept: 16 kHz mono, the rate
// both pocketsphinx's en-us model and Whisper-class servers are trained on.
const SampleRate = 16000

var (
	// ErrClosed is returned by an Engine or Stream used after Close.
	ErrClosed = errors.New("asr: closed")
	// ErrBusy means every recogniser of a bounded pool is in use and the
	// caller's context ended before one became free.
	ErrBusy = errors.New("asr: all recognisers busy")
	// ErrTooLong means an utterance exceeded the engine's length limit;
	// the caller should cut utterances shorter.
	ErrTooLong = errors.New("asr: utterance too long")
	// ErrConfig reports an unusable engine configuration.
	ErrConfig = errors.New("asr: bad configuration")
)

// Engine is a speech recogniser shared by many concurrent streams.
type Engine interface {
	// NewStream starts one utterance of voice v (nil: an unknown voice).
	// It may wait for capacity (a bounded decoder pool, a concurrency
	// limit) and returns an error wrapping ErrBusy if ctx ends first.
	NewStream(ctx context.Context, v *Voice) (Stream, error)
	// Name identifies the engine in logs and transcripts ("pocketsphinx").
	Name() string
	// Close releases the engine's resources; open streams fail afterwards.
	Close() error
}

// Warmer is implemented by engines whose recognisers are slow to create
// (pocketsphinx loads its model per decoder). Warm prepares, in the
// background, recognisers for n streams at once, so that the first
// utterances of a meeting do not wait for them.
type Warmer interface {
	Warm(n int)
}

// Stream recognises one utterance. It is used by one goroutine at a time.
// Exactly one of Final or Close ends it; both release its resources, and
// Close after Final is a no-op.
type Stream interface {
	// Write feeds 16 kHz mono samples in [-1, 1].
	Write(ctx context.Context, pcm []float32) error
	// Partial returns the current best hypothesis of the speech written so
	// far ("" when the engine has none or does not stream partials).
	Partial(ctx context.Context) (string, error)
	// Final ends the utterance and returns the recognised text and words.
	Final(ctx context.Context) (Result, error)
	// Close abandons the utterance.
	Close() error
}

// Voice is what an engine learns about one track (one speaker through one
// microphone) from its utterances and reuses for the next ones. pocketsphinx
// keeps the track's cepstral mean there: decoding an utterance with the
// mean of another track's voice, or the model's generic one, costs 4-5
// points of WER on the dev set (docs/benchmarks-asr.md). Callers keep one
// Voice per track and pass it to every NewStream of that track; a Voice is
// used by one stream at a time. The zero value is a voice not heard yet.
type Voice struct {
	// State belongs to the engine that set it; others ignore it.
	State any
	// Language is what this track speaks (ISO 639-1) when it is not the
	// engine's configured language; an engine that cannot recognise it
	// refuses the stream with ErrConfig.
	Language string
}

// Word is one recognised word with times in seconds from the utterance start.
type Word struct {
	Text  string
	Start float64
	End   float64
}

// Result is the final recognition of one utterance. Words may be empty when
// the engine gives no word times; Text is then all the caller has.
type Result struct {
	Text  string
	Words []Word
	// Estimated means the engine gave no word times and Words were spread
	// evenly over the segment the engine did time (or the whole utterance).
	Estimated bool
}

// JoinWords is the text of a word list, single-spaced.
func JoinWords(ws []Word) string {
	parts := make([]string, 0, len(ws))
	for _, w := range ws {
		if w.Text != "" {
			parts = append(parts, w.Text)
		}
	}
	return strings.Join(parts, " ")
}

// Float32ToInt16 converts samples in [-1, 1] to 16-bit PCM, clipping the
// rest. dst is reused when it is large enough.
func Float32ToInt16(dst []int16, pcm []float32) []int16 {
	if cap(dst) < len(pcm) {
		dst = make([]int16, len(pcm))
	}
	dst = dst[:len(pcm)]
	for i, s := range pcm {
		v := s * 32767
		switch {
		case v > 32767:
			v = 32767
		case v < -32768:
			v = -32768
		case v != v: // NaN from a broken decoder must not become garbage
			v = 0
		}
		dst[i] = int16(v)
	}
	return dst
}
