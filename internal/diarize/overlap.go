package diarize

// Overlapped speech: stretches where a second speaker talks over the one
// the frame labels give. The cepstral models describe one voice per frame,
// so a frame of two voices goes to whichever dominates it; what gives the
// overlap away is where the dominance changes hands without a pause:
//
//   - an island: a short turn of b with a on both sides and no pause is a
//     back-channel ("yeah", "d'accord") said over a, who went on talking;
//   - a handover: where a changes to b with no pause, the frames on each
//     side of the change that the other speaker's model wins at least
//     p.overlapShare of the time (in 100 ms blocks, walking away from the
//     change) are both speakers: one started before the other finished.
//
// docs/diarization.md ("Overlap") has the measurements.

// overlapStretch is a second speaker over frames [start, end).
type overlapStretch struct {
	span
	speaker int
}

// overlapBlock is the block (frames) in which a handover's wins are counted.
const overlapBlock = 10

// overlaps finds the second speakers of labels (final, compacted, k
// clusters) over the speech regions.
func overlaps(sc *scorer, speech []span, labels []int, k int, p *params) []overlapStretch {
	if k < 2 || p.overlapReach <= 0 && p.overlapIsland <= 0 {
		return nil
	}
	idx := make([][]int32, k)
	for t, l := range labels {
		if l >= 0 {
			idx[l] = append(idx[l], int32(t))
		}
	}
	models := make([][]float64, k)
	for c := range k {
		if len(idx[c]) > 0 {
			models[c] = sc.adapt(idx[c], p.relevance)
		}
	}
	// wins reports whether speaker b's model beats a's on frame t.
	wins := func(t, b, a int) bool { return sc.logLik(t, models[b]) > sc.logLik(t, models[a]) }
	var out []overlapStretch
	for _, s := range speech {
		// The runs of one label inside this region (no pause inside).
		type run struct {
			span
			l int
		}
		var runs []run
		for t := s.start; t < s.end; {
			e := t + 1
			for e < s.end && labels[e] == labels[t] {
				e++
			}
			runs = append(runs, run{span{t, e}, labels[t]})
			t = e
		}
		for i := 1; i < len(runs); i++ {
			prev, cur := runs[i-1], runs[i]
			if prev.l < 0 || cur.l < 0 {
				continue
			}
			// An island: a, short b, a.
			if i+1 < len(runs) && runs[i+1].l == prev.l && cur.len() <= p.overlapIsland {
				out = append(out, overlapStretch{cur.span, prev.l})
			}
			// A handover from prev.l to cur.l at cur.start, walked both ways.
			c := cur.start
			left := c
			for left-overlapBlock >= prev.start && left-c > -p.overlapReach {
				n := 0
				for t := left - overlapBlock; t < left; t++ {
					if wins(t, cur.l, prev.l) {
						n++
					}
				}
				if float64(n) < p.overlapShare*overlapBlock {
					break
				}
				left -= overlapBlock
			}
			right := c
			for right+overlapBlock <= cur.end && right-c < p.overlapReach {
				n := 0
				for t := right; t < right+overlapBlock; t++ {
					if wins(t, prev.l, cur.l) {
						n++
					}
				}
				if float64(n) < p.overlapShare*overlapBlock {
					break
				}
				right += overlapBlock
			}
			if right-left < p.overlapMin {
				continue
			}
			if left < c {
				out = append(out, overlapStretch{span{left, c}, cur.l})
			}
			if right > c {
				out = append(out, overlapStretch{span{c, right}, prev.l})
			}
		}
	}
	return out
}
