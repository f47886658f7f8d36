package speech

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/parleyhq/parley/internal/asr"
	"github.com/parleyhq/parley/internal/transcript"
)

// Track is one participant's audio on its way to the transcript. Its
// processing (VAD, recogniser, captions, commits) runs on the goroutine
// that writes to it: in a meeting the track's tap goroutine, whose bounded
// packet queue is the pipeline's only queue (a recogniser that falls
// behind makes the tap drop, never the forwarding path wait); offline, the
// caller's goroutine per file. mu serialises Write, Feed and Close, so
// Session.Close may close a track that is still being written.
type Track struct {
	s           *Session
	speakerID   string
	speakerName string
	voice       asr.Voice // the engine's knowledge of this track's voice
	done        chan struct{}

	mu      sync.Mutex
	closed  bool
	dropped atomic.Int64 // samples lost before they reached the track

	// Guarded by mu.
	cut       Cutter
	origin    float64 // meeting time of the cutter's sample 0
	n         int64   // samples written to the cutter
	started   bool
	ring      []float32 // the last ringLen samples, for pre-roll
	ringStart int64     // cutter offset of ring[0]
	inSpeech  bool
	utt       *utterance
	dropOpen  episode
}

// episode is a run of dropped audio.
type episode struct {
	at      float64 // meeting time of its first lost sample
	last    float64 // … and of the end of its last run
	samples int64
}

type utterance struct {
	stream      asr.Stream
	from        int64 // cutter offset of the utterance's first sample
	fed         int64 // cutter offset fed up to
	sincePart   int
	lastPartial string
}

// ringLen keeps 3 s of recent audio: the pre-roll plus the VAD's decision
// delay (its speech start lies in the past when it is reported).
const ringLen = 3 * SampleRate

func newTrack(s *Session, id, name string) *Track {
	return &Track{s: s, speakerID: id, speakerName: name, done: make(chan struct{}), voice: asr.Voice{Language: s.cfg.Language}}
}

// SpeakerID is the participant this track belongs to.
func (t *Track) SpeakerID() string { return t.speakerID }

// Write processes 16 kHz mono samples whose first sample is at meeting
// time start (seconds), with the session's context. Chunks may leave gaps
// (mute, DTX, loss); they must not go back in time by more than a few
// milliseconds. Writes after Close are ignored.
func (t *Track) Write(start float64, pcm []float32) {
	t.write(t.s.ctx, start, pcm)
}

// Feed is Write for offline use (files): recognition runs under ctx too,
// and the error says why the track no longer takes audio.
func (t *Track) Feed(ctx context.Context, start float64, pcm []float32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	unhook := context.AfterFunc(t.s.ctx, stop)
	defer unhook()
	if !t.write(ctx, start, pcm) {
		return ErrClosed
	}
	return ctx.Err()
}

func (t *Track) write(ctx context.Context, start float64, pcm []float32) bool {
	if len(pcm) == 0 || math.IsNaN(start) || math.IsInf(start, 0) {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	if ctx.Err() != nil {
		t.abort()
		return true
	}
	if t.dropOpen.samples > 0 && start-t.dropOpen.last >= dropMerge {
		t.reportDrops()
	}
	t.process(ctx, start, pcm)
	return true
}

// Skip tells the track that samples of its audio ending at meeting time
// at were lost before they reached it (its tap's queue was full because
// recognition fell behind). They are counted, and the run of lost audio
// becomes one event in the transcript so a reader knows words may be
// missing there.
func (t *Track) Skip(at float64, samples int64) {
	if samples <= 0 {
		return
	}
	t.dropped.Add(samples)
	t.s.dropped.Add(samples)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.addDrops(episode{at: at - float64(samples)/SampleRate, samples: samples})
}

// Dropped is the audio lost so far, in seconds.
func (t *Track) Dropped() float64 { return float64(t.dropped.Load()) / SampleRate }

// Close ends the track: the utterance in flight is flushed as a final
// segment (recognised, committed, captioned) before Close returns. It is
// safe to call more than once and from another goroutine than the writer.
func (t *Track) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.closed = true
	defer close(t.done)
	defer t.s.untrack(t)
	ctx := t.s.ctx
	if ctx.Err() != nil {
		t.abort()
		return
	}
	t.flush(ctx)
	t.endUtterance(ctx, t.n)
	t.reportDrops()
}

// Done is closed when the track has committed its last segment.
func (t *Track) Done() <-chan struct{} { return t.done }

// dropMerge: runs of lost audio less than this apart (seconds of meeting
// time) are one event; a queue that stays full drops a packet every few
// tens of milliseconds, and a reader wants one note, not hundreds.
const dropMerge = 1.0

// addDrops adds a run of lost audio to the open episode.
func (t *Track) addDrops(d episode) {
	if t.dropOpen.samples == 0 {
		t.dropOpen.at = d.at
	}
	t.dropOpen.samples += d.samples
	t.dropOpen.last = d.at + float64(d.samples)/SampleRate
}

// reportDrops writes the open run of lost audio as one event in the
// transcript, so a reader knows words may be missing there.
func (t *Track) reportDrops() {
	if t.dropOpen.samples == 0 {
		return
	}
	sec := float64(t.dropOpen.samples) / SampleRate
	t.s.logger().Warn("speech: recogniser behind, audio dropped", "meeting", t.s.cfg.Meeting.ID, "speaker", t.speakerID, "seconds", sec)
	t.s.event(transcript.Event{At: t.dropOpen.at, Kind: transcript.AudioDropped, SpeakerID: t.speakerID, Speaker: t.speakerName, Detail: fmt.Sprintf("%.1f s", sec)})
	t.dropOpen = episode{}
}

func (t *Track) abort() {
	if t.utt != nil {
		t.utt.stream.Close()
		t.utt = nil
	}
}

// at is the meeting time of a cutter offset.
func (t *Track) at(off int64) float64 { return t.origin + float64(off)/SampleRate }

// restart begins a new VAD run whose sample 0 is at meeting time start.
func (t *Track) restart(start float64) {
	t.cut = t.s.cfg.NewCutter()
	t.origin, t.n = start, 0
	t.ring, t.ringStart = t.ring[:0], 0
	t.inSpeech = false
	t.started = true
}

// process places a chunk on the track's timeline: small gaps become
// silence, long gaps restart the VAD, overlaps are trimmed.
func (t *Track) process(ctx context.Context, start float64, pcm []float32) {
	if !t.started {
		t.restart(start)
	}
	pos := int64(math.Round((start - t.origin) * SampleRate))
	gap := pos - t.n
	switch {
	case gap > int64(t.s.cfg.GapFill*SampleRate):
		t.flush(ctx)
		t.endUtterance(ctx, t.n)
		t.restart(start)
	case gap > 0:
		t.samples(ctx, make([]float32, gap))
	case gap < 0:
		// Overlap with audio already processed: keep only what is new.
		if -gap >= int64(len(pcm)) {
			return
		}
		pcm = pcm[-gap:]
	}
	t.samples(ctx, pcm)
}

// step is the audio handled at once (100 ms): chunks of any size are cut
// into steps so that the ring always holds the audio an utterance needs
// and partials and cuts happen on time.
const step = SampleRate / 10

func (t *Track) samples(ctx context.Context, pcm []float32) {
	for len(pcm) > 0 {
		n := min(len(pcm), step)
		t.step(ctx, pcm[:n])
		pcm = pcm[n:]
	}
}

func (t *Track) step(ctx context.Context, pcm []float32) {
	t.ring = append(t.ring, pcm...)
	if over := len(t.ring) - ringLen; over > 0 {
		t.ring = append(t.ring[:0], t.ring[over:]...)
		t.ringStart += int64(over)
	}
	t.n += int64(len(pcm))
	t.bounds(ctx, t.cut.Write(pcm))
	if t.utt != nil {
		t.feed(ctx, t.n)
		if t.utt != nil && t.n-t.utt.from >= int64(t.s.cfg.MaxUtterance*SampleRate) {
			// Speech without a pause for MaxUtterance: cut here and go on.
			t.endUtterance(ctx, t.n)
			t.beginUtterance(ctx, t.n)
		}
	}
}

// flush ends the cutter's input: the region still open is closed where the
// VAD puts its end rather than at the last sample.
func (t *Track) flush(ctx context.Context) {
	if t.cut != nil && t.started {
		t.bounds(ctx, t.cut.Flush())
	}
}

// bounds starts and ends utterances at the VAD's boundaries.
func (t *Track) bounds(ctx context.Context, bounds []Boundary) {
	for _, b := range bounds {
		at := min(max(b.At, 0), t.n)
		if b.Start {
			if !t.inSpeech {
				t.inSpeech = true
				t.beginUtterance(ctx, at-int64(t.s.cfg.PreRoll*SampleRate))
			}
			continue
		}
		if t.inSpeech {
			t.inSpeech = false
			t.endUtterance(ctx, at)
		}
	}
}

func (t *Track) beginUtterance(ctx context.Context, from int64) {
	from = max(from, t.ringStart, 0)
	st, err := t.s.cfg.Engine.NewStream(ctx, &t.voice)
	if err != nil {
		t.s.errs.Add(1)
		t.s.logger().Error("speech: no recogniser for utterance", "speaker", t.speakerID, "at", t.at(from), "err", err)
		return
	}
	t.utt = &utterance{stream: st, from: from, fed: from}
}

// feed sends the ring's audio up to cutter offset to to the engine.
func (t *Track) feed(ctx context.Context, to int64) {
	u := t.utt
	from := max(u.fed, t.ringStart)
	if to <= from {
		return
	}
	pcm := t.ring[from-t.ringStart : to-t.ringStart]
	u.fed = to
	if err := u.stream.Write(ctx, pcm); err != nil {
		t.s.errs.Add(1)
		t.s.logger().Error("speech: recogniser write", "speaker", t.speakerID, "err", err)
		t.endUtterance(ctx, to)
		return
	}
	u.sincePart += len(pcm)
	if u.sincePart < int(t.s.cfg.PartialEvery*SampleRate) {
		return
	}
	u.sincePart = 0
	p, err := u.stream.Partial(ctx)
	if err != nil || p == "" || p == u.lastPartial {
		return
	}
	u.lastPartial = p
	t.s.caption(Caption{SpeakerID: t.speakerID, SpeakerName: t.speakerName, Text: p, Start: t.at(u.from), End: t.at(to)})
}

// endUtterance flushes the utterance in flight (if any) as ending at cutter
// offset end: final caption, committed segment.
func (t *Track) endUtterance(ctx context.Context, end int64) {
	u := t.utt
	if u == nil {
		return
	}
	t.feed(ctx, end)
	if t.utt == nil { // feed failed and already ended it
		return
	}
	t.utt = nil
	res, err := u.stream.Final(ctx)
	if err != nil {
		t.s.errs.Add(1)
		t.s.logger().Error("speech: recognition failed", "speaker", t.speakerID, "start", t.at(u.from), "err", err)
		if u.lastPartial != "" {
			t.s.caption(Caption{SpeakerID: t.speakerID, SpeakerName: t.speakerName, Final: true, Start: t.at(u.from), End: t.at(end)})
		}
		return
	}
	t.s.utterances.Add(1)
	seg := t.segment(res, t.at(u.from), t.at(end))
	if seg.Text == "" && u.lastPartial == "" {
		return
	}
	// Commit before the final caption goes out: a final caption anyone has
	// seen is in the store, whatever happens to the server next (one
	// fsync, a few milliseconds, before the caption).
	if seg.Text != "" {
		t.s.commit(seg)
	}
	t.s.caption(Caption{SpeakerID: t.speakerID, SpeakerName: t.speakerName, Text: seg.Text, Final: true, Start: seg.Start, End: seg.End})
}

// segment places a recognition on the meeting clock. Its span is the
// words' span when there are words (tighter than the VAD's, which includes
// pre-roll and hangover), else the utterance's.
func (t *Track) segment(r asr.Result, start, end float64) transcript.Segment {
	seg := transcript.Segment{SpeakerID: t.speakerID, Speaker: t.speakerName, Start: start, End: end, Text: r.Text, Words: []transcript.Word{}}
	for _, w := range r.Words {
		seg.Words = append(seg.Words, transcript.Word{Word: w.Text, Start: start + w.Start, End: start + w.End})
	}
	if n := len(seg.Words); n > 0 {
		seg.Start, seg.End = seg.Words[0].Start, seg.Words[n-1].End
	}
	return seg
}
