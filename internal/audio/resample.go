package audio

import (
	"errors"
	"fmt"
	"math"
)

// ErrBadRate reports a sample rate the resampler cannot work with.
var ErrBadRate = errors.New("audio: bad sample rate")

// Resampler parameters. A Kaiser-windowed sinc with 40 zero crossings each
// side and β = 8.6 has about 85 dB stopband attenuation and a transition
// band about 1 kHz wide at a 16 kHz output (Kaiser's estimate: taps ≈
// (A−8)/(2.285·Δω)); centred at 94 % of the lower Nyquist frequency
// (7.52 kHz), the passband is flat to about 7 kHz (−0.1 dB at 6.5 kHz,
// −1 dB at 7 kHz), which is where wideband speech features stop, and
// anything above about 8 kHz is gone before it can fold back.
const (
	resampleZeroCrossings = 40
	resampleKaiserBeta    = 8.6
	resampleRolloff       = 0.94
	// The filter is tabulated for at most this many coefficients (1 MB of
	// float32). Common rate pairs reduce to few phases (48000→16000: 1;
	// 44100→16000: 160) and get an exact table; a pair like 44101→16000
	// (16000 phases) rounds each output instant to the nearest of
	// maxPhaseTable/taps phases (≥ 64 at 768 kHz): a timing error of at most
	// 1/(2·phases) input sample, −67 dB for a 7 kHz tone in the worst case.
	maxPhaseTable = 1 << 18
)

// Resampler converts a mono stream from one sample rate to another with a
// polyphase windowed-sinc filter (band-limited, anti-aliased). It is
// streaming: feed any number of samples to Process, call Flush at the end.
// Output sample n is centred on input time n·from/to, so the output has no
// delay relative to the input; the first and last samples see zero padding.
// A Resampler is not safe for concurrent use.
type Resampler struct {
	from, to int
	up, down int64       // reduced ratio: output n sits at input n·down/up
	half     int         // kernel half width in input samples
	scale    float64     // cutoff relative to the input Nyquist frequency
	phases   [][]float32 // nph filters; output phase p uses row p·nph/up
	nph      int64
	i0beta   float64 // 1/I0(β), the window's normalisation
	passThru bool

	buf  []float32 // input samples from absolute index base on
	base int64
	in   int64 // input samples received
	next int64 // next output index
	done bool
}

// NewResampler returns a resampler from rate from to rate to (Hz).
func NewResampler(from, to int) (*Resampler, error) {
	if from <= 0 || to <= 0 || from > 10_000_000 || to > 10_000_000 {
		return nil, fmt.Errorf("%w: %d Hz to %d Hz", ErrBadRate, from, to)
	}
	g := gcd(from, to)
	r := &Resampler{from: from, to: to, up: int64(to / g), down: int64(from / g)}
	if from == to {
		r.passThru = true
		return r, nil
	}
	r.scale = resampleRolloff * math.Min(1, float64(to)/float64(from))
	r.half = int(math.Ceil(resampleZeroCrossings / r.scale))
	r.i0beta = 1 / bessI0(resampleKaiserBeta)
	taps := 2 * r.half
	r.nph = min(r.up, max(64, maxPhaseTable/int64(taps)))
	// Rows are computed on first use: a short input with an odd rate pair
	// then costs only the phases it touches.
	r.phases = make([][]float32, r.nph)
	return r, nil
}

// phase returns the filter row for tabulated phase q.
func (r *Resampler) phase(q int64) []float32 {
	if row := r.phases[q]; row != nil {
		return row
	}
	frac := float64(q) / float64(r.nph)
	row := make([]float32, 2*r.half)
	for j := range row {
		// tap j multiplies input i+j-half+1; its distance from the output
		// instant i+frac is j-half+1-frac.
		row[j] = float32(r.kernel(float64(j-r.half+1) - frac))
	}
	r.phases[q] = row
	return row
}

// kernel is the windowed sinc at distance t input samples from the output
// instant, scaled for unity DC gain.
func (r *Resampler) kernel(t float64) float64 {
	if math.Abs(t) >= float64(r.half) {
		return 0
	}
	x := r.scale * t
	s := 1.0
	if x != 0 {
		s = math.Sin(math.Pi*x) / (math.Pi * x)
	}
	w := t / float64(r.half)
	return r.scale * s * bessI0(resampleKaiserBeta*math.Sqrt(1-w*w)) * r.i0beta
}

// From and To return the rates the resampler converts between.
func (r *Resampler) From() int { return r.from }

// To returns the output rate.
func (r *Resampler) To() int { return r.to }

// Process consumes in and appends the output samples that are ready to out.
func (r *Resampler) Process(out, in []float32) []float32 {
	if r.passThru {
		return append(out, in...)
	}
	r.buf = append(r.buf, in...)
	r.in += int64(len(in))
	return r.produce(out, r.in)
}

// Flush appends the remaining output (the input is padded with zeros) so
// that the total output length is ceil(inputs·to/from). The resampler can
// be reused for a new stream afterwards.
func (r *Resampler) Flush(out []float32) []float32 {
	if r.passThru {
		return out
	}
	total := (r.in*r.up + r.down - 1) / r.down
	pad := make([]float32, r.half+2)
	avail := r.in
	for r.next < total {
		r.buf = append(r.buf, pad...)
		avail += int64(len(pad))
		out = r.produce(out, avail)
		if r.next > total {
			out = out[:len(out)-int(r.next-total)]
			r.next = total
		}
	}
	r.Reset()
	return out
}

// Reset forgets all input so the resampler can start a new stream.
func (r *Resampler) Reset() {
	r.buf = r.buf[:0]
	r.base, r.in, r.next = 0, 0, 0
}

// produce emits outputs whose kernel support ends before input index avail.
func (r *Resampler) produce(out []float32, avail int64) []float32 {
	half := int64(r.half)
	for {
		pos := r.next * r.down
		i := pos / r.up
		p := pos % r.up
		if i+half+1 >= avail { // +1: a phase rounded up moves the kernel one sample on
			break
		}
		var acc float32
		lo := i - half + 1 // first input index under the kernel
		q := p
		if r.nph != r.up {
			q = (p*r.nph + r.up/2) / r.up // nearest tabulated phase
			if q == r.nph {
				// Rounds up to the next input sample's phase 0.
				q, lo = 0, lo+1
			}
		}
		row := r.phase(q)
		start := lo - r.base
		if start < 0 {
			// Before the first input sample: zero padding.
			row = row[-start:]
			start = 0
		}
		x := r.buf[start : start+int64(len(row))]
		for j, c := range row {
			acc += c * x[j]
		}
		out = append(out, acc)
		r.next++
	}
	// Drop input no future output needs: the next output's kernel starts at
	// next·down/up − half + 1.
	keep := (r.next*r.down)/r.up - half + 1
	if drop := keep - r.base; drop > 0 && drop <= int64(len(r.buf)) {
		n := copy(r.buf, r.buf[drop:])
		r.buf = r.buf[:n]
		r.base = keep
	}
	return out
}

// bessI0 is the zeroth-order modified Bessel function of the first kind,
// by the polynomial approximations of Abramowitz & Stegun 9.8.1-9.8.2
// (relative error < 2e-7, far below float32 coefficients' precision); a
// power series costs ten times more and tables hold up to 2^18 values.
func bessI0(x float64) float64 {
	ax := math.Abs(x)
	if ax < 3.75 {
		y := (x / 3.75) * (x / 3.75)
		return 1 + y*(3.5156229+y*(3.0899424+y*(1.2067492+y*(0.2659732+y*(0.0360768+y*0.0045813)))))
	}
	y := 3.75 / ax
	return math.Exp(ax) / math.Sqrt(ax) * (0.39894228 + y*(0.01328592+y*(0.00225319+y*(-0.00157565+y*(0.00916281+
		y*(-0.02057706+y*(0.02635537+y*(-0.01647633+y*0.00392377))))))))
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
