// Package diarize finds who spoke when in one audio stream (16 kHz mono,
// the output of internal/audio/audiofile): speech activity (the far-field
// VAD of internal/audio/vad), speaker change detection, agglomerative
// clustering of segments, and a refinement that alternates Viterbi
// resegmentation with GMM speaker models and merging, with an automatic
// speaker count. No model file: every model is estimated on the
// recording itself. docs/diarization.md describes the algorithm and the
// measurements behind each constant.
//
// Use Diarize on samples already in memory, DiarizeSource to stream a file
// (the audio is never held: memory is the features, 76 bytes per 10 ms,
// about 27 MB for an hour).
package diarize

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
)

// Turn is one stretch of speech attributed to one speaker. Times are
// seconds from the start of the audio.
type Turn struct {
	Speaker    string
	Start, End float64
	// Overlap marks a second speaker heard over another's turn (someone
	// starting before the other has finished, a "yes" in the middle of
	// another's sentence): the same stretch has a turn of the other
	// speaker too.
	Overlap bool
}

// Options tunes one diarization. The zero value estimates the number of
// speakers.
type Options struct {
	// Speakers, when > 0, is the exact number of speakers.
	Speakers int
	// MinSpeakers and MaxSpeakers, when > 0, bound the estimated number.
	MinSpeakers, MaxSpeakers int
	// Logger receives the clustering decisions at debug level; nil
	// discards them.
	Logger *slog.Logger
}

// ErrOptions reports contradictory options.
var ErrOptions = errors.New("diarize: bad options")

// Validate checks the options.
func (o Options) Validate() error {
	switch {
	case o.Speakers < 0 || o.MinSpeakers < 0 || o.MaxSpeakers < 0:
		return fmt.Errorf("%w: negative speaker count", ErrOptions)
	case o.Speakers > 0 && (o.MinSpeakers > 0 || o.MaxSpeakers > 0):
		return fmt.Errorf("%w: give either an exact speaker count or a range, not both", ErrOptions)
	case o.MaxSpeakers > 0 && o.MinSpeakers > o.MaxSpeakers:
		return fmt.Errorf("%w: min speakers %d > max speakers %d", ErrOptions, o.MinSpeakers, o.MaxSpeakers)
	}
	return nil
}

// SampleSource is what DiarizeSource reads: 16 kHz mono samples in
// [−1, 1], io.Reader style (it returns io.EOF at the end, possibly with
// the last samples). *audiofile.Reader is one.
type SampleSource interface {
	Read(p []float32) (n int, err error)
}

// Diarize returns the speaker turns of samples (16 kHz mono, [−1, 1]),
// sorted by start time. Speakers are named SPEAKER_1, SPEAKER_2, … in
// order of first appearance. Audio without speech gives no turns and no
// error.
func Diarize(ctx context.Context, samples []float32, opts Options) ([]Turn, error) {
	return DiarizeSource(ctx, &sliceSource{x: samples}, opts)
}

// DiarizeSource is Diarize on a stream read to its end; only the features
// are kept, not the audio.
func DiarizeSource(ctx context.Context, src SampleSource, opts Options) ([]Turn, error) {
	return diarize(ctx, src, opts, &defaultParams)
}

func diarize(ctx context.Context, src SampleSource, opts Options, p *params) ([]Turn, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	a, speech, err := analyzeSource(ctx, src)
	if err != nil {
		return nil, err
	}
	return diarizeFrames(ctx, a, speech, opts, p)
}

// diarizeFrames runs everything after the front end.
func diarizeFrames(ctx context.Context, a *analysis, speech []span, opts Options, p *params) ([]Turn, error) {
	if len(speech) == 0 {
		return nil, nil
	}
	labels, k, sc, err := speakerFrames(ctx, a, speech, opts, p)
	if err != nil {
		return nil, err
	}
	var second []int
	if p.overlap != nil && len(a.level) == a.n { // (an analysis made in a test may have no levels)
		second = secondSpeakers(overlapFeatures(a, sc, speech, labels, k, p.relevance, p.overlap, nil), p.overlap)
	}
	return turns(labels, second), nil
}

// speakerFrames normalises the features and labels every speech frame
// with one of k speakers (0…k−1; −1 elsewhere); the scorer holds the
// speaker models' background.
func speakerFrames(ctx context.Context, a *analysis, speech []span, opts Options, p *params) ([]int, int, *scorer, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	debug := func(msg string, args ...any) { log.Debug("diarize: "+msg, args...) }
	a.normalise(speech)
	sc := newScorer(a, speech, trainUBM(a, speech, p), p.topC)
	if err := ctx.Err(); err != nil {
		return nil, 0, nil, err
	}
	labels, k := initialClusters(a, speech, sc, &opts, p, debug)
	debug("first clustering", "frames", a.n, "speech regions", len(speech), "clusters", k)
	if err := ctx.Err(); err != nil {
		return nil, 0, nil, err
	}
	k = refine(sc, speech, labels, k, opts, p, debug)
	resegment(sc, speech, labels, k, p.finalIters, 1, p)
	return labels, compact(labels), sc, nil
}

// initialClusters labels the speech frames before the refinement. With
// enough speech (p.count.minWindows windows) the windows' embeddings give
// the number of speakers (unless the caller gave it) and a spectral
// clustering into that many; the refinement may then merge further but
// not split (opts.MaxSpeakers becomes the estimate). With less speech, or
// one speaker asked for, the change-point segments are clustered by ΔBIC
// (firstClustering) and the refinement's rules find the count; from
// p.count.minCapWindows windows on, no more than one above the estimate.
// docs/diarization.md ("Count and clustering from window embeddings")
// has the measurements.
func initialClusters(a *analysis, speech []span, sc *scorer, opts *Options, p *params, debug func(string, ...any)) ([]int, int) {
	if opts.Speakers == 1 {
		return firstClustering(a, speech, *opts, p)
	}
	vecs, wins := windowVectors(sc, speech, &p.count)
	switch {
	case len(wins) >= p.count.minWindows:
		emb := ensembleEmbed(a, speech, wins, vecs, p)
		k, pr, gap := estimateCount(emb, *opts, &p.count)
		if opts.Speakers == 0 {
			opts.MaxSpeakers = k
		}
		debug("window embeddings", "windows", len(wins), "speakers", k, "pruning", pr, "gap", gap)
		return windowFrameLabels(a.n, speech, wins, spectralLabels(emb, pr, k)), k
	case len(wins) >= p.count.minCapWindows && opts.Speakers == 0:
		// Too few windows to trust the spectral clusters, enough for a
		// bound: the change-point clustering may find one speaker more
		// than the estimate, not three times as many.
		k, _, gap := estimateCount(ensembleEmbed(a, speech, wins, vecs, p), *opts, &p.count)
		if opts.MaxSpeakers == 0 || k+1 < opts.MaxSpeakers {
			opts.MaxSpeakers = max(k+1, opts.MinSpeakers)
		}
		debug("window embeddings bound the count", "windows", len(wins), "estimate", k, "gap", gap, "max speakers", opts.MaxSpeakers)
	}
	return firstClustering(a, speech, *opts, p)
}

// firstClustering segments the speech at speaker changes, clusters the
// segments long enough to model into initClusters clusters (more when the
// caller asks for more speakers, and more on long recordings) and gives
// the short ones their neighbour's label. It returns one label per frame
// (−1 = non-speech) and the number of clusters.
func firstClustering(a *analysis, speech []span, opts Options, p *params) ([]int, int) {
	segs := segments(a, speech, p)
	var items []gaussStats
	var itemSeg []int
	for i, s := range segs {
		if s.len() < p.minClusterFrames {
			continue
		}
		var g gaussStats
		for t := s.start; t < s.end; t++ {
			g.add(a.row(t))
		}
		items = append(items, g)
		itemSeg = append(itemSeg, i)
	}
	labels := make([]int, a.n)
	for i := range labels {
		labels[i] = -1
	}
	if len(items) == 0 {
		// Only short bursts of speech: one cluster.
		for _, s := range segs {
			for t := s.start; t < s.end; t++ {
				labels[t] = 0
			}
		}
		return labels, 1
	}
	speechFrames := 0
	for _, s := range speech {
		speechFrames += s.len()
	}
	// One more starting cluster per 5 minutes of speech, up to twice the
	// base: long meetings have more speakers and more ways to split them.
	k := min(2*p.initClusters, p.initClusters+speechFrames/(300*frameRate))
	k = max(k, opts.Speakers, opts.MinSpeakers)
	lab := clusterItems(items, k, p.maxAHCItems, p.bicLambda)
	k = 0
	for i, si := range itemSeg {
		for t := segs[si].start; t < segs[si].end; t++ {
			labels[t] = lab[i]
		}
		k = max(k, lab[i]+1)
	}
	fillShort(labels, segs)
	return labels, k
}

// fillShort gives each unlabelled segment the label of the closest
// labelled frame before it, or after it when none precedes.
func fillShort(labels []int, segs []span) {
	for _, s := range segs {
		if labels[s.start] >= 0 {
			continue
		}
		l := -1
		for t := s.start - 1; t >= 0 && l < 0; t-- {
			l = labels[t]
		}
		for t := s.end; t < len(labels) && l < 0; t++ {
			l = labels[t]
		}
		for t := s.start; t < s.end; t++ {
			labels[t] = max(l, 0)
		}
	}
}

// turns converts frame labels to turns, speakers named by first
// appearance, and adds the second speakers of second (nil, or one label
// per frame, −1 for none) as turns marked Overlap; sorted by start.
func turns(labels, second []int) []Turn {
	names := map[int]string{}
	name := func(l int) string {
		n, ok := names[l]
		if !ok {
			n = "SPEAKER_" + strconv.Itoa(len(names)+1)
			names[l] = n
		}
		return n
	}
	var out []Turn
	runs(labels, func(l, t, e int) {
		out = append(out, Turn{Speaker: name(l), Start: frameTime(t), End: frameTime(e)})
	})
	if second != nil {
		runs(second, func(l, t, e int) {
			out = append(out, Turn{Speaker: name(l), Start: frameTime(t), End: frameTime(e), Overlap: true})
		})
		slices.SortStableFunc(out, func(a, b Turn) int { return cmp.Compare(a.Start, b.Start) })
	}
	return out
}

// runs calls f for each run [t, e) of one label l ≥ 0.
func runs(labels []int, f func(l, t, e int)) {
	for t := 0; t < len(labels); {
		l := labels[t]
		e := t + 1
		for e < len(labels) && labels[e] == l {
			e++
		}
		if l >= 0 {
			f(l, t, e)
		}
		t = e
	}
}

// frameTime is the time of frame t's start (the VAD's region edges map
// back to their own times exactly).
func frameTime(t int) float64 { return float64(t) / frameRate }

// sliceSource reads from a slice of samples.
type sliceSource struct{ x []float32 }

func (s *sliceSource) Read(p []float32) (int, error) {
	if len(s.x) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.x)
	s.x = s.x[n:]
	return n, nil
}
