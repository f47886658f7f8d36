package pocketsphinx

/*
#cgo pkg-config: pocketsphinx
#include <stdlib.h>
#include <pocketsphinx.h>
#include <err.h>
#include <feat.h>
#include <cmn.h>

// Wrappers keep the cgo calls free of variadic functions and of pointer
// juggling on the Go side.
static cmd_ln_t *parley_ps_config(int argc, char **argv) {
	return cmd_ln_parse_r(NULL, ps_args(), argc, argv, TRUE);
}

// The live cepstral mean (CMN) of the decoder's feature computation.
static int parley_cmn_len(ps_decoder_t *ps) {
	feat_t *f = ps_get_feat(ps);
	return f && f->cmn_struct ? f->cmn_struct->veclen : 0;
}
static void parley_cmn_get(ps_decoder_t *ps, mfcc_t *v) { cmn_live_get(ps_get_feat(ps)->cmn_struct, v); }
static void parley_cmn_set(ps_decoder_t *ps, const mfcc_t *v) { cmn_live_set(ps_get_feat(ps)->cmn_struct, v); }
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unsafe"
)

var quietOnce sync.Once

// quiet silences sphinxbase's logging for the whole process. pocketsphinx
// logs hundreds of lines per decoder to stderr by default. The -logfn option
// is NOT used: each ps_init with -logfn calls err_set_logfile, which fcloses
// the previous global log file while another decoder's thread may be
// writing to it; err_set_logfp(NULL) once is the documented, race-free way
// to disable logging.
func quiet() {
	quietOnce.Do(func() { C.err_set_logfp(nil) })
}

// decoder is one pocketsphinx decoder. It is not safe for concurrent use;
// the pool hands it to one stream at a time.
type decoder struct {
	ps  *C.ps_decoder_t
	buf []int16
	// cmnInit is the model's initial cepstral mean (feat.params -cmninit).
	cmnInit []float32
	inUtt   bool
}

// newDecoder loads the model: about 0.3 s of CPU and 20-30 MB per decoder
// with the en-us model (measured in docs/benchmarks-asr.md).
func newDecoder(args []string) (*decoder, error) {
	quiet()
	argv := make([]*C.char, len(args))
	for i, a := range args {
		argv[i] = C.CString(a)
	}
	defer func() {
		for _, p := range argv {
			C.free(unsafe.Pointer(p))
		}
	}()
	var argp **C.char
	if len(argv) > 0 {
		// The argv array is C memory so cgo's pointer rules hold.
		arr := C.malloc(C.size_t(len(argv)) * C.size_t(unsafe.Sizeof(uintptr(0))))
		defer C.free(arr)
		s := unsafe.Slice((**C.char)(arr), len(argv))
		copy(s, argv)
		argp = (**C.char)(arr)
	}
	cfg := C.parley_ps_config(C.int(len(args)), argp)
	if cfg == nil {
		return nil, fmt.Errorf("pocketsphinx: rejected arguments %s", strings.Join(args, " "))
	}
	ps := C.ps_init(cfg)
	C.cmd_ln_free_r(cfg) // ps_init retains its own reference
	if ps == nil {
		return nil, errors.New("pocketsphinx: ps_init failed (model files missing or unreadable?)")
	}
	d := &decoder{ps: ps}
	if n := int(C.parley_cmn_len(ps)); n > 0 {
		d.cmnInit = make([]float32, n)
		C.parley_cmn_get(ps, (*C.mfcc_t)(unsafe.Pointer(&d.cmnInit[0])))
	}
	return d, nil
}

// cmn returns the decoder's current live cepstral mean.
func (d *decoder) cmn() []float32 {
	if len(d.cmnInit) == 0 {
		return nil
	}
	v := make([]float32, len(d.cmnInit))
	C.parley_cmn_get(d.ps, (*C.mfcc_t)(unsafe.Pointer(&v[0])))
	return v
}

// setCMN sets the live cepstral mean (nil: the model's initial one).
func (d *decoder) setCMN(v []float32) {
	if len(d.cmnInit) == 0 {
		return
	}
	if len(v) != len(d.cmnInit) {
		v = d.cmnInit
	}
	C.parley_cmn_set(d.ps, (*C.mfcc_t)(unsafe.Pointer(&v[0])))
}

func (d *decoder) free() {
	if d.ps != nil {
		C.ps_free(d.ps)
		d.ps = nil
	}
}

func (d *decoder) start() error {
	// ps_start_utt does NOT reset the frame counter in 0.8+5prealpha: on a
	// reused decoder the second utterance's words come out 290 frames late
	// (TestWordTimesRebasedPerUtterance). ps_start_stream resets it (and
	// the live CMN), so every utterance decodes as on a fresh decoder.
	if C.ps_start_stream(d.ps) < 0 {
		return errors.New("pocketsphinx: ps_start_stream failed")
	}
	if C.ps_start_utt(d.ps) < 0 {
		return errors.New("pocketsphinx: ps_start_utt failed")
	}
	d.inUtt = true
	return nil
}

func (d *decoder) process(pcm []int16) error {
	if len(pcm) == 0 {
		return nil
	}
	// Go memory passed for the duration of the call only: allowed by cgo.
	n := C.ps_process_raw(d.ps, (*C.int16)(unsafe.Pointer(&pcm[0])), C.size_t(len(pcm)), 0, 0)
	if n < 0 {
		return errors.New("pocketsphinx: ps_process_raw failed")
	}
	return nil
}

func (d *decoder) hyp() string {
	var score C.int32
	h := C.ps_get_hyp(d.ps, &score)
	if h == nil {
		return ""
	}
	return C.GoString(h)
}

// rawWord is one segment of the best path, frames relative to the utterance.
type rawWord struct {
	word   string
	sf, ef int
}

func (d *decoder) end() ([]rawWord, error) {
	d.inUtt = false
	if C.ps_end_utt(d.ps) < 0 {
		return nil, errors.New("pocketsphinx: ps_end_utt failed")
	}
	var out []rawWord
	base := -1
	for seg := C.ps_seg_iter(d.ps); seg != nil; seg = C.ps_seg_next(seg) {
		var sf, ef C.int
		C.ps_seg_frames(seg, &sf, &ef)
		w := C.GoString(C.ps_seg_word(seg))
		if base < 0 {
			// The best path starts with <s> at the utterance's first
			// frame; rebasing on it keeps times right even if a library
			// version numbers frames from the stream start.
			base = 0
			if w == "<s>" {
				base = int(sf)
			}
		}
		out = append(out, rawWord{word: w, sf: int(sf) - base, ef: int(ef) - base})
	}
	return out, nil
}

// abort ends an utterance whose result nobody wants, so the decoder can be
// reused cleanly.
func (d *decoder) abort() {
	if d.inUtt {
		C.ps_end_utt(d.ps)
		d.inUtt = false
	}
}
