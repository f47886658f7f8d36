// Package pocketsphinx is the embedded speech recogniser: CMU PocketSphinx
// (Debian's libpocketsphinx-dev 0.8+5prealpha) through cgo, with the
// pocketsphinx-en-us model. It streams partial hypotheses and gives word
// times.
//
// A decoder holds the whole model (about 20-30 MB for en-us) and decodes one
// utterance at a time, so the engine keeps a bounded pool of them: at most
// Config.Pool utterances are decoded at once, and a further NewStream waits
// for a free decoder until its context ends (then fails with asr.ErrBusy).
// Decoders are made lazily and kept for reuse, so memory is bounded by
// Pool × one decoder.
//
// Lock order: Engine.mu only; it is never held across a cgo call that
// decodes audio.
package pocketsphinx

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/asr"
)

// DefaultModelDir is where Debian's pocketsphinx-en-us installs the model.
const DefaultModelDir = "/usr/share/pocketsphinx/model/en-us"

// framesPerSecond is pocketsphinx's default -frate (10 ms frames).
const framesPerSecond = 100

// Config configures the engine. The zero value uses Debian's en-us model,
// a pool of 4 decoders and a 120 s utterance limit.
type Config struct {
	// ModelDir holds en-us/ (acoustic model), en-us.lm.bin and
	// cmudict-en-us.dict. Default DefaultModelDir.
	ModelDir string
	// HMM, LM and Dict override the three files individually.
	HMM, LM, Dict string
	// Pool bounds the number of decoders (utterances decoded at once).
	// Default 4: each decoder costs ~90 MB and one core decodes several
	// real-time streams (see docs/benchmarks-asr.md).
	Pool int
	// MaxUtterance bounds one utterance in seconds (default 120): the
	// decoder's search history grows with the utterance, so a stuck VAD
	// must not grow it without limit. Write past it returns asr.ErrTooLong.
	MaxUtterance float64
	// ExtraArgs are appended to the decoder's arguments ("-beam", "1e-60").
	ExtraArgs []string
	// Lazy loads no decoder until the first utterance (each is ~90 MB):
	// a meeting server that nobody transcribes keeps its memory for media.
	// New then only checks that the model files exist.
	Lazy bool
	// IdleTimeout frees a decoder nobody has used for this long (default
	// 10 minutes; negative: never), so a server keeps the memory of a
	// busy meeting only while meetings are busy.
	IdleTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.ModelDir == "" {
		c.ModelDir = DefaultModelDir
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 10 * time.Minute
	}
	if c.HMM == "" {
		c.HMM = filepath.Join(c.ModelDir, "en-us")
	}
	if c.LM == "" {
		c.LM = filepath.Join(c.ModelDir, "en-us.lm.bin")
	}
	if c.Dict == "" {
		c.Dict = filepath.Join(c.ModelDir, "cmudict-en-us.dict")
	}
	if c.Pool <= 0 {
		c.Pool = 4
	}
	if c.MaxUtterance <= 0 {
		c.MaxUtterance = 120
	}
	return c
}

func (c Config) args() []string {
	a := []string{
		"-hmm", c.HMM,
		"-lm", c.LM,
		"-dict", c.Dict,
		"-samprate", "16000",
		// Our own VAD cuts utterances; pocketsphinx's silence removal would
		// drop frames and shift word times.
		"-remove_silence", "no",
		// No second (flat-lexicon) pass: on the dev stems it changed the
		// cpWER by one word in 336 (21.4 % with, 21.1 % without) and
		// costs 10-25 % more CPU, all of it at the end of the utterance,
		// which is exactly when the final caption is waited for.
		"-fwdflat", "no",
		// At most 3000 active HMMs per frame (the default is 30000). On the
		// English dev meetings' stems (parley transcribe --track, CPU time
		// of both meetings, -fwdflat no): cpWER 21.13 % at 33.1 s by
		// default, 21.13 % at 23.7 s with 3000, 21.43 % at 20.6 s with
		// 2000, 23.81 % at 17.5 s with 1500: the same accuracy for 28 %
		// less CPU, so more speaking tracks per core in a meeting.
		"-maxhmmpf", "3000",
	}
	return append(a, c.ExtraArgs...)
}

// Engine is the pocketsphinx asr.Engine.
type Engine struct {
	cfg  Config
	args []string
	sem  chan struct{} // one token per decoder in use

	mu      sync.Mutex
	ready   *sync.Cond  // a decoder went idle, or loading ended
	idle    []*decoder  // most recently used last
	idleAt  []time.Time // when each idle decoder was put back
	trim    *time.Timer // frees decoders idle past IdleTimeout
	busy    int         // decoders in streams
	loading int         // decoders Warm is loading
	waiting int         // takers waiting for one of those
	want    int         // decoders Warm was asked for
	loads   int         // decoders loaded since New
	closed  bool
}

var (
	_ asr.Engine = (*Engine)(nil)
	_ asr.Warmer = (*Engine)(nil)
)

// New checks the model files and loads one decoder (unless Lazy), so a bad
// model fails here rather than at the first utterance.
func New(cfg Config) (*Engine, error) {
	cfg = cfg.withDefaults()
	for _, p := range []string{cfg.HMM, cfg.LM, cfg.Dict} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%w: pocketsphinx model: %v", asr.ErrConfig, err)
		}
	}
	e := &Engine{cfg: cfg, args: cfg.args(), sem: make(chan struct{}, cfg.Pool)}
	e.ready = sync.NewCond(&e.mu)
	if cfg.Lazy {
		return e, nil
	}
	d, err := newDecoder(e.args)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", asr.ErrConfig, err)
	}
	e.mu.Lock()
	e.park(d)
	e.mu.Unlock()
	return e, nil
}

// warmLoaders is how many decoders Warm loads at once.
var warmLoaders = max(1, min(4, runtime.GOMAXPROCS(0)))

// Warm implements asr.Warmer: it loads decoders in the background until
// min(n, pool) exist (idle, in use or loading). A decoder takes about
// 0.27 s of CPU to load; loaded at a meeting's first words, ten of them
// delayed the first captions by up to 3 s with ten speakers
// (bench-captions --dense).
func (e *Engine) Warm(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.want = max(e.want, min(n, e.cfg.Pool))
	for !e.closed && e.loading < warmLoaders && len(e.idle)+e.busy+e.loading < e.want {
		e.loading++
		go e.warmOne()
	}
}

func (e *Engine) warmOne() {
	d, err := newDecoder(e.args)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.loading--
	e.loads++
	e.ready.Broadcast()
	switch {
	case err != nil:
		e.want = 0 // the taker reports the error
	case e.closed:
		d.free()
	default:
		e.park(d)
		if len(e.idle)+e.busy+e.loading < e.want {
			e.loading++
			go e.warmOne()
		}
	}
}

// Name implements asr.Engine.
func (e *Engine) Name() string { return "pocketsphinx" }

// Pool is the decoder limit.
func (e *Engine) Pool() int { return e.cfg.Pool }

// NewStream implements asr.Engine: it takes a decoder from the pool, waiting
// for one while ctx allows.
func (e *Engine) NewStream(ctx context.Context, v *asr.Voice) (asr.Stream, error) {
	if v != nil && v.Language != "" && v.Language != "en" {
		return nil, fmt.Errorf("%w: pocketsphinx recognises English only, not %q", asr.ErrConfig, v.Language)
	}
	select {
	case e.sem <- struct{}{}:
	default:
		select {
		case e.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (%d decoders): %v", asr.ErrBusy, e.cfg.Pool, ctx.Err())
		}
	}
	d, err := e.take()
	if err != nil {
		<-e.sem
		return nil, err
	}
	// The decoder's live cepstral mean is the last voice it decoded, maybe
	// another track's: start from this voice's own, or the model's.
	var cmn []float32
	if v != nil {
		if st, ok := v.State.(voiceState); ok {
			cmn = st.cmn
		}
	}
	d.setCMN(cmn)
	if err := d.start(); err != nil {
		e.put(d, true)
		return nil, err
	}
	return &stream{e: e, d: d, v: v, maxSamples: int(e.cfg.MaxUtterance * asr.SampleRate)}, nil
}

// park puts d in the idle list (e.mu held) and makes sure the trim timer
// will look at it.
func (e *Engine) park(d *decoder) {
	e.idle = append(e.idle, d)
	e.idleAt = append(e.idleAt, time.Now())
	if e.cfg.IdleTimeout > 0 && e.trim == nil {
		e.trim = time.AfterFunc(e.cfg.IdleTimeout, e.trimIdle)
	}
}

// trimIdle frees the decoders idle for IdleTimeout and rearms itself for
// the next one to expire.
func (e *Engine) trimIdle() {
	e.mu.Lock()
	e.trim = nil
	if e.closed {
		e.mu.Unlock()
		return
	}
	n := 0 // idle decoders to free: the least recently used come first
	for n < len(e.idle) && time.Since(e.idleAt[n]) >= e.cfg.IdleTimeout {
		n++
	}
	old := append([]*decoder(nil), e.idle[:n]...)
	e.idle = append(e.idle[:0], e.idle[n:]...)
	e.idleAt = append(e.idleAt[:0], e.idleAt[n:]...)
	if n > 0 {
		e.want = 0 // a later Warm loads them again
	}
	if len(e.idle) > 0 {
		e.trim = time.AfterFunc(e.cfg.IdleTimeout-time.Since(e.idleAt[0]), e.trimIdle)
	}
	e.mu.Unlock()
	for _, d := range old {
		d.free()
	}
}

func (e *Engine) take() (*decoder, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for {
		if e.closed {
			return nil, asr.ErrClosed
		}
		if n := len(e.idle); n > 0 {
			d := e.idle[n-1]
			e.idle, e.idleAt = e.idle[:n-1], e.idleAt[:n-1]
			e.busy++
			return d, nil
		}
		if e.loading <= e.waiting {
			break
		}
		// Warm is loading one nobody has claimed yet: wait for it rather
		// than load one more than needed.
		e.waiting++
		e.ready.Wait()
		e.waiting--
	}
	e.busy++
	// Loading a model takes a few hundred ms: not under the lock.
	e.mu.Unlock()
	d, err := newDecoder(e.args)
	e.mu.Lock()
	e.loads++
	if err != nil {
		e.busy--
	}
	return d, err
}

// put returns a decoder to the pool (or frees it when the engine is closed
// or the decoder is suspect) and releases its token.
func (e *Engine) put(d *decoder, broken bool) {
	e.mu.Lock()
	e.busy--
	if e.closed || broken {
		e.mu.Unlock()
		d.free()
	} else {
		e.park(d)
		e.ready.Signal()
		e.mu.Unlock()
	}
	<-e.sem
}

// Close frees the idle decoders; decoders in use are freed when their
// streams end.
func (e *Engine) Close() error {
	e.mu.Lock()
	idle := e.idle
	e.idle, e.idleAt = nil, nil
	e.closed = true
	if e.trim != nil {
		e.trim.Stop()
	}
	e.ready.Broadcast()
	e.mu.Unlock()
	for _, d := range idle {
		d.free()
	}
	return nil
}

// voiceState is what pocketsphinx keeps in an asr.Voice: the track's live
// cepstral mean after its last utterance.
type voiceState struct{ cmn []float32 }

type stream struct {
	e          *Engine
	v          *asr.Voice
	d          *decoder // nil once ended
	samples    int
	maxSamples int
	pcm        []int16
}

func (s *stream) Write(ctx context.Context, pcm []float32) error {
	if s.d == nil {
		return asr.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.samples+len(pcm) > s.maxSamples {
		return fmt.Errorf("%w: over %.0f s", asr.ErrTooLong, s.e.cfg.MaxUtterance)
	}
	s.samples += len(pcm)
	s.pcm = asr.Float32ToInt16(s.pcm, pcm)
	return s.d.process(s.pcm)
}

func (s *stream) Partial(ctx context.Context) (string, error) {
	if s.d == nil {
		return "", asr.ErrClosed
	}
	return cleanText(s.d.hyp()), nil
}

func (s *stream) Final(ctx context.Context) (asr.Result, error) {
	if s.d == nil {
		return asr.Result{}, asr.ErrClosed
	}
	d := s.d
	s.d = nil
	raw, err := d.end()
	if err == nil && s.v != nil {
		s.v.State = voiceState{cmn: d.cmn()}
	}
	s.e.put(d, err != nil)
	if err != nil {
		return asr.Result{}, err
	}
	return toResult(raw, float64(s.samples)/asr.SampleRate), nil
}

func (s *stream) Close() error {
	if s.d == nil {
		return nil
	}
	d := s.d
	s.d = nil
	d.abort()
	s.e.put(d, false)
	return nil
}

// altPron matches the alternate-pronunciation suffix of dictionary words:
// "read(2)" is the word "read".
var altPron = regexp.MustCompile(`\(\d+\)$`)

// isFiller reports pocketsphinx's non-words: <s>, </s>, <sil>, [NOISE],
// ++NOISE++ style fillers from the noise dictionary.
func isFiller(w string) bool {
	return w == "" || strings.HasPrefix(w, "<") || strings.HasPrefix(w, "[") || strings.HasPrefix(w, "+")
}

func cleanWord(w string) string {
	return altPron.ReplaceAllString(w, "")
}

// cleanText removes fillers from a hypothesis string.
func cleanText(h string) string {
	f := strings.Fields(h)
	out := f[:0]
	for _, w := range f {
		if !isFiller(w) {
			out = append(out, cleanWord(w))
		}
	}
	return strings.Join(out, " ")
}

// toResult turns best-path segments into words with times in seconds from
// the utterance start, clamped to the audio actually written (the last
// frame may stand for a partly filled window).
func toResult(raw []rawWord, dur float64) asr.Result {
	var r asr.Result
	for _, w := range raw {
		if isFiller(w.word) {
			continue
		}
		start := float64(w.sf) / framesPerSecond
		end := float64(w.ef+1) / framesPerSecond
		start = clamp(start, 0, dur)
		end = clamp(end, start, dur)
		r.Words = append(r.Words, asr.Word{Text: cleanWord(w.word), Start: start, End: end})
	}
	r.Text = asr.JoinWords(r.Words)
	return r
}

func clamp(v, lo, hi float64) float64 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// errNoModel is returned by Available when the model is not installed.
var errNoModel = errors.New("pocketsphinx: en-us model not installed")

// Available reports whether Debian's default model is installed.
func Available() error {
	if _, err := os.Stat(filepath.Join(DefaultModelDir, "en-us.lm.bin")); err != nil {
		return fmt.Errorf("%w: %v", errNoModel, err)
	}
	return nil
}
