package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/parleyhq/parley/internal/asr"
	"github.com/parleyhq/parley/internal/audio/audiofile"
	"github.com/parleyhq/parley/internal/diarize"
	"github.com/parleyhq/parley/internal/speech"
	"github.com/parleyhq/parley/internal/transcript"
)

// Source is one track of a recording to transcribe: 16 kHz mono samples
// in [−1, 1], read io.Reader style to io.EOF (*audiofile.Reader is one).
type Source struct {
	// Speaker names the track's speaker (id and name); "" for a mixed
	// recording, whose speaker is SPEAKER_1 unless it is diarized.
	Speaker string
	// Name says which input failed in errors (a file name).
	Name  string
	Audio diarize.SampleSource
}

// Progress hears how a transcription advances; both methods may be
// called from several goroutines.
type Progress interface {
	// Add reports seconds of source i's audio recognised.
	Add(i int, seconds float64)
	// Note names a step that follows recognition ("diarizing").
	Note(step string)
}

// TranscribeOptions configures Transcribe.
type TranscribeOptions struct {
	Meeting transcript.Meeting
	Engine  asr.Engine
	// Diarize a single mixed source: its words are given to the
	// speakers diarization finds (SPEAKER_1, SPEAKER_2, …). Without
	// Reopen the whole recording is held in memory (230 MB per hour).
	Diarize bool
	// Reopen, when set, reads the source again from its start for
	// diarization, which then keeps only its features (about 30 MB per
	// hour): a file can be read twice, a live stream cannot.
	Reopen   func() (diarize.SampleSource, io.Closer, error)
	Speakers int // exact number of speakers when diarizing; 0: estimate
	// Language the recording speaks when not the engine's (ISO 639-1).
	Language string
	Progress Progress
	Logger   *slog.Logger
}

// chunkSamples is read and recognised at once: 0.5 s, so memory stays
// bounded however long the recording is.
const chunkSamples = speech.SampleRate / 2

// Transcribe recognises recorded tracks through the same pipeline as a
// live meeting (VAD, recogniser, one timeline), one goroutine per track,
// and returns the transcript. It fails, with no transcript, if any source
// fails or any utterance could not be recognised.
func Transcribe(ctx context.Context, sources []Source, o TranscribeOptions) (*transcript.Transcript, error) {
	if len(sources) == 0 {
		return nil, errors.New("jobs: nothing to transcribe")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	diarizing := o.Diarize && len(sources) == 1 && sources[0].Speaker == ""
	mem := &transcript.Memory{}
	sess, err := speech.NewSession(speech.Config{Meeting: o.Meeting, Engine: o.Engine, Store: mem, Logger: o.Logger, Language: o.Language})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(sources))
	var mixed []float32 // the whole recording, kept only to diarize it
	for i, src := range sources {
		name := src.Speaker
		if name == "" {
			name = "SPEAKER_1"
		}
		tr, err := sess.AddTrack(name, name)
		if err != nil {
			cancel()
			sess.Close(ctx)
			return nil, err
		}
		wg.Go(func() {
			var keep *[]float32
			if diarizing && o.Reopen == nil {
				keep = &mixed
			}
			errs[i] = feed(ctx, tr, src, keep, func(sec float64) {
				if o.Progress != nil {
					o.Progress.Add(i, sec)
				}
			})
			if errs[i] != nil {
				cancel()
			}
			tr.Close()
		})
	}
	wg.Wait()
	closeErr := sess.Close(ctx)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if closeErr != nil {
		return nil, closeErr
	}
	if st := sess.Stats(); st.Errors > 0 {
		return nil, fmt.Errorf("%d utterances could not be recognised (see the log)", st.Errors)
	}
	t := mem.Transcript(o.Meeting)
	if diarizing {
		if o.Progress != nil {
			o.Progress.Note("diarizing")
		}
		var turns []diarize.Turn
		if o.Reopen != nil {
			src, c, rerr := o.Reopen()
			if rerr != nil {
				return nil, fmt.Errorf("diarization: %w", rerr)
			}
			turns, err = diarize.DiarizeSource(ctx, src, diarize.Options{Speakers: o.Speakers})
			c.Close()
		} else {
			turns, err = diarize.Diarize(ctx, mixed, diarize.Options{Speakers: o.Speakers})
		}
		if err != nil {
			return nil, fmt.Errorf("diarization: %w", err)
		}
		t.Segments = Attribute(t.Segments, turns, 0)
		t.Speakers = transcript.SpeakersOf(t.Segments)
	}
	return t, nil
}

// feed reads one source to its end into its track.
func feed(ctx context.Context, tr *speech.Track, src Source, keep *[]float32, progress func(float64)) error {
	buf := make([]float32, chunkSamples)
	var pos int64
	for {
		n, err := src.Audio.Read(buf)
		if n > 0 {
			if ferr := tr.Feed(ctx, float64(pos)/speech.SampleRate, buf[:n]); ferr != nil {
				return ferr
			}
			if keep != nil {
				*keep = append(*keep, buf[:n]...)
			}
			pos += int64(n)
			progress(float64(n) / speech.SampleRate)
		}
		if err == io.EOF {
			if pos == 0 {
				return fmt.Errorf("%s: %w: no samples", src.Name, audiofile.ErrEmpty)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", src.Name, err)
		}
	}
}
