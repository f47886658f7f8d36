// Package diarize finds who spoke when in one audio stream (16 kHz mono):
// speech activity, speaker change detection, agglomerative clustering of
// segments with an automatic speaker count, and Viterbi resegmentation.
// It needs no model file: every model is estimated on the recording
// itself. See docs/diarization.md for the algorithm and its measurements.
package diarize

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sort"
	"strconv"
)

// Turn is one stretch of speech attributed to one speaker. Times are
// seconds from the start of the audio.
type Turn struct {
	Speaker    string
	Start, End float64
}

// Options tunes one diarization. The zero value estimates the number of
// speakers.
type Options struct {
	// Speakers, when > 0, is the exact number of speakers.
	Speakers int
	// MinSpeakers and MaxSpeakers, when > 0, bound the estimated number.
	MinSpeakers, MaxSpeakers int
	// Logger receives debug information; nil discards it.
	Logger *slog.Logger
}

// ErrOptions reports contradictory options.
var ErrOptions = errors.New("diarize: bad options")

var debugMerges = false

var exactCLR = true

var oracleLabels func(t int) int

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

// Diarize returns the speaker turns of samples (16 kHz mono, [−1, 1]),
// sorted by start time. Speakers are named SPEAKER_1, SPEAKER_2, … in
// order of first appearance. Audio without speech gives no turns and no
// error.
func Diarize(ctx context.Context, samples []float32, opts Options) ([]Turn, error) {
	return diarize(ctx, samples, opts, &defaultParams)
}

func diarize(ctx context.Context, samples []float32, opts Options, p *params) ([]Turn, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var a *analysis
	var speech []span
	if p.ownFrontEnd {
		var err error
		a, err = analyze(ctx, samples)
		if err != nil {
			return nil, err
		}
		speech = voicedOnly(a, energySpeech(a, p), p)
	} else {
		var err error
		a, speech, err = analyzeSource(ctx, &sliceSource{x: samples})
		if err != nil {
			return nil, err
		}
	}
	if len(speech) == 0 {
		return nil, nil
	}
	a.normalise(speech)
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
	if len(items) == 0 { // only short bursts: one speaker
		for i, s := range segs {
			_ = i
			items = append(items, gaussStats{})
			for t := s.start; t < s.end; t++ {
				items[len(items)-1].add(a.row(t))
			}
			itemSeg = append(itemSeg, i)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	merges := ahc(items, p.bicLambda)
	if debugMerges {
		for i := max(0, len(merges)-8); i < len(merges); i++ {
			m := merges[i]
			pen := 0.5 * (numCeps + 0.5*numCeps*(numCeps+1)) * math.Log(m.na+m.nb)
			fmt.Printf("  k=%d glr %8.1f pen %6.1f glr/pen %5.2f glr/n %5.3f glr/min %5.3f  na %6.0f nb %6.0f\n", len(items)-i, m.glr, pen, m.glr/pen, m.glr/(m.na+m.nb), m.glr/min(m.na, m.nb), m.na, m.nb)
		}
	}
	k := min(p.initClusters, len(items))
	if opts.Speakers > 0 || opts.MinSpeakers > 0 {
		k = max(k, min(len(items), max(opts.Speakers, opts.MinSpeakers)))
	}
	lab := cut(len(items), merges, k)
	log.Debug("diarize: clustering", "segments", len(segs), "clustered", len(items), "bicCount", bicCount(len(items), merges), "k", k)

	labels := make([]int, a.n)
	for i := range labels {
		labels[i] = -1
	}
	for i, si := range itemSeg {
		s := segs[si]
		for t := s.start; t < s.end; t++ {
			labels[t] = lab[i]
		}
	}
	// Unclustered short segments start with their nearest neighbour's
	// label; the resegmentation then decides.
	fillShort(labels, segs)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if oracleLabels != nil {
		k = 0
		for t := range labels {
			if labels[t] >= 0 {
				labels[t] = oracleLabels(t)
				k = max(k, labels[t]+1)
			}
		}
	}
	ubm := trainUBM(a, speech, p)
	if oracleLabels != nil {
		resegment(a, speech, ubm, labels, k, p)
		return turns(labels), nil
	}
	if p.t2Threshold > 0 {
		for t := range labels {
			labels[t] = -1
		}
		k = unitClusters(a, segs, labels, opts, p)
		fillShort(labels, segs)
		resegment(a, speech, ubm, labels, k, p)
		k = compact(labels)
	} else if p.bicOnly {
		k = clampCount(bicCount(len(items), merges), len(items), opts)
		lab = cut(len(items), merges, k)
		for t := range labels {
			labels[t] = -1
		}
		for i, si := range itemSeg {
			for t := segs[si].start; t < segs[si].end; t++ {
				labels[t] = lab[i]
			}
		}
		fillShort(labels, segs)
		resegment(a, speech, ubm, labels, k, p)
	} else if p.cvMerge {
		k = cvMerge(a, speech, ubm, labels, k, opts, p)
	} else if p.awInit > 0 {
		k = awCluster(a, speech, ubm, labels, k, opts, p)
	} else {
		k = refine(a, speech, ubm, labels, k, opts, p)
		if p.finalAdaptML {
			q := *p
			q.adaptML = true
			resegment(a, speech, ubm, labels, k, &q)
		}
	}
	return turns(labels), nil
}

// clampCount applies the caller's speaker count or range to k, within
// [1, n].
func clampCount(k, n int, o Options) int {
	if o.Speakers > 0 {
		k = o.Speakers
	}
	if o.MinSpeakers > 0 {
		k = max(k, o.MinSpeakers)
	}
	if o.MaxSpeakers > 0 {
		k = min(k, o.MaxSpeakers)
	}
	return max(1, min(k, n))
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
		if l < 0 {
			l = 0
		}
		for t := s.start; t < s.end; t++ {
			labels[t] = l
		}
	}
}

// turns converts frame labels to turns named by first appearance.
func turns(labels []int) []Turn {
	names := map[int]string{}
	var out []Turn
	for t := 0; t < len(labels); {
		l := labels[t]
		if l < 0 {
			t++
			continue
		}
		e := t
		for e < len(labels) && labels[e] == l {
			e++
		}
		name, ok := names[l]
		if !ok {
			name = "SPEAKER_" + strconv.Itoa(len(names)+1)
			names[l] = name
		}
		out = append(out, Turn{Speaker: name, Start: frameTime(t), End: frameTime(e)})
		t = e
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

// frameTime is the time of frame t's centre region start: frame t covers
// [t·10 ms, t·10 ms + 25 ms); its 10 ms hop slot is centred on the window,
// so boundaries are placed 7.5 ms in.
func frameTime(t int) float64 { return (float64(t*frameHop) + (frameLen-frameHop)/2) / sampleRate }

// clrRecluster merges the clusters of labels by CLR until the best pair
// falls under p.clrThreshold (or the requested count is reached), relabels
// the frames in place and returns the new number of clusters.
func clrRecluster(a *analysis, ubm *gmm, labels []int, k int, opts Options, p *params) int {
	stats := make([]bwStats, k)
	for i := range stats {
		stats[i] = newBWStats(ubm.k(), ubm.dim)
	}
	post := make([]float64, ubm.k())
	for t, l := range labels {
		if l < 0 {
			continue
		}
		x := a.row(t)
		ll := ubm.compLogLik(x, post)
		stats[l].accumulate(x, post, ll, ubm.dim)
	}
	// Drop clusters that the resegmentation emptied.
	var live []int
	for c := range stats {
		if stats[c].total() > 0 {
			live = append(live, c)
		}
	}
	ls := make([]bwStats, len(live))
	for i, c := range live {
		ls[i] = stats[c]
	}
	n := len(live)
	var merges []clrMerge
	if exactCLR {
		ll := make([]int, len(labels))
		rm := map[int]int{}
		for i, c := range live {
			rm[c] = i
		}
		for t, l := range labels {
			ll[t] = -1
			if l >= 0 {
				ll[t] = rm[l]
			}
		}
		merges = clrClusterExact(a, ubm, ll, n, p.relevance)
	} else {
		merges = clrCluster(ubm, ls, p.relevance)
	}
	auto := n
	for i, m := range merges {
		if m.clr < p.clrThreshold {
			break
		}
		auto = n - i - 1
	}
	if debugMerges {
		for i, m := range merges {
			fmt.Printf("  clr k=%d %7.3f\n", n-i, m.clr)
		}
	}
	kk := clampCount(auto, n, opts)
	pairs := make([][2]int, len(merges))
	for i, m := range merges {
		pairs[i] = [2]int{m.a, m.b}
	}
	lab := cutPairs(n, pairs, kk)
	remap := make([]int, k)
	for i := range remap {
		remap[i] = -1
	}
	for i, c := range live {
		remap[c] = lab[i]
	}
	for t, l := range labels {
		if l >= 0 {
			labels[t] = remap[l]
		}
	}
	return kk
}

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
