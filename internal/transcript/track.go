package transcript

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/parleyhq/parley/internal/asr"
)

// Track is one participant's audio on its way to the transcript. Write and
// Feed may be called from one goroutine (the track's tap) at a time.
type Track struct {
	s           *Session
	speakerID   string
	speakerName string
	voice       asr.Voice // the engine's knowledge of this track's voice
	maxQueued   int
	done        chan struct{}

	mu      sync.Mutex
	q       []chunk
	queued  int // samples in q
	closed  bool
	dropped int64   // samples, since the track started
	pending episode // drops not yet reported by the goroutine
	wake    chan struct{}
	space   chan struct{}

	// Owned by the track's goroutine.
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

type chunk struct {
	start float64
	pcm   []float32
}

// episode is a run of dropped audio.
type episode struct {
	at      float64
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
	return &Track{
		s: s, speakerID: id, speakerName: name,
		maxQueued: int(s.cfg.Queue * SampleRate),
		done:      make(chan struct{}),
		wake:      make(chan struct{}, 1),
		space:     make(chan struct{}, 1),
	}
}

// SpeakerID is the participant this track belongs to.
func (t *Track) SpeakerID() string { return t.speakerID }

// Write queues 16 kHz mono samples whose first sample is at meeting time
// start (seconds). It never blocks: when the queue is full the chunk is
// dropped and counted. pcm is copied. Chunks may leave gaps (mute, DTX,
// loss); they must not go back in time by more than a few milliseconds.
func (t *Track) Write(start float64, pcm []float32) {
	if len(pcm) == 0 || math.IsNaN(start) || math.IsInf(start, 0) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	if t.queued > 0 && t.queued+len(pcm) > t.maxQueued {
		t.dropped += int64(len(pcm))
		t.s.dropped.Add(int64(len(pcm)))
		if t.pending.samples == 0 {
			t.pending.at = start
		}
		t.pending.samples += int64(len(pcm))
		return
	}
	t.push(start, pcm)
}

func (t *Track) push(start float64, pcm []float32) {
	t.q = append(t.q, chunk{start: start, pcm: append([]float32(nil), pcm...)})
	t.queued += len(pcm)
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// Feed is Write for offline use (files): it waits for room in the queue
// instead of dropping, until ctx ends.
func (t *Track) Feed(ctx context.Context, start float64, pcm []float32) error {
	for {
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			return ErrClosed
		}
		if t.queued == 0 || t.queued+len(pcm) <= t.maxQueued {
			t.push(start, pcm)
			t.mu.Unlock()
			return nil
		}
		t.mu.Unlock()
		select {
		case <-t.space:
		case <-t.done:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Dropped is the audio dropped so far, in seconds.
func (t *Track) Dropped() float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return float64(t.dropped) / SampleRate
}

// Close ends the track: audio already queued is still recognised and the
// utterance in flight is flushed as a final segment. It does not wait; Done
// is closed when the track's goroutine has finished.
func (t *Track) Close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// Done is closed when the track has committed its last segment.
func (t *Track) Done() <-chan struct{} { return t.done }

func (t *Track) run() {
	defer close(t.done)
	ctx := t.s.ctx
	for {
		select {
		case <-t.wake:
		case <-ctx.Done():
			t.abort()
			return
		}
		for {
			t.mu.Lock()
			q, closed, drop := t.q, t.closed, t.pending
			t.q, t.queued, t.pending = nil, 0, episode{}
			t.mu.Unlock()
			select {
			case t.space <- struct{}{}:
			default:
			}
			t.noteDrops(drop)
			for _, c := range q {
				if ctx.Err() != nil {
					t.abort()
					return
				}
				t.process(ctx, c)
			}
			if len(q) == 0 {
				if closed {
					t.flush(ctx)
					t.endUtterance(ctx, t.n)
					t.noteDrops(episode{})
					return
				}
				break
			}
		}
	}
}

// noteDrops reports a run of dropped audio once it is over, as one event in
// the transcript, so a reader knows words may be missing there.
func (t *Track) noteDrops(d episode) {
	if d.samples > 0 {
		if t.dropOpen.samples == 0 {
			t.dropOpen.at = d.at
		}
		t.dropOpen.samples += d.samples
		return
	}
	if t.dropOpen.samples == 0 {
		return
	}
	sec := float64(t.dropOpen.samples) / SampleRate
	t.s.logger().Warn("transcript: recogniser behind, audio dropped", "meeting", t.s.cfg.Meeting.ID, "speaker", t.speakerID, "seconds", sec)
	t.s.event(Event{At: t.dropOpen.at, Kind: AudioDropped, SpeakerID: t.speakerID, Speaker: t.speakerName, Detail: fmt.Sprintf("%.1f s", sec)})
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
func (t *Track) process(ctx context.Context, c chunk) {
	if !t.started {
		t.restart(c.start)
	}
	pos := int64(math.Round((c.start - t.origin) * SampleRate))
	gap := pos - t.n
	switch {
	case gap > int64(t.s.cfg.GapFill*SampleRate):
		t.flush(ctx)
		t.endUtterance(ctx, t.n)
		t.restart(c.start)
	case gap > 0:
		t.samples(ctx, make([]float32, gap))
	case gap < 0:
		// Overlap with audio already processed: keep only what is new.
		if -gap >= int64(len(c.pcm)) {
			return
		}
		c.pcm = c.pcm[-gap:]
	}
	t.samples(ctx, c.pcm)
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
		t.s.logger().Error("transcript: no recogniser for utterance", "speaker", t.speakerID, "at", t.at(from), "err", err)
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
		t.s.logger().Error("transcript: recogniser write", "speaker", t.speakerID, "err", err)
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
		t.s.logger().Error("transcript: recognition failed", "speaker", t.speakerID, "start", t.at(u.from), "err", err)
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
func (t *Track) segment(r asr.Result, start, end float64) Segment {
	seg := Segment{SpeakerID: t.speakerID, Speaker: t.speakerName, Start: start, End: end, Text: r.Text, Words: []Word{}}
	for _, w := range r.Words {
		seg.Words = append(seg.Words, Word{Word: w.Text, Start: start + w.Start, End: start + w.End})
	}
	if n := len(seg.Words); n > 0 {
		seg.Start, seg.End = seg.Words[0].Start, seg.Words[n-1].End
	}
	return seg
}
