package openai

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/parleyhq/parley/internal/asr"
)

// response is the union of the API's json and verbose_json forms. Servers
// differ on where word times go: OpenAI puts them at top level, several
// whisper servers nest them in segments; both are read.
type response struct {
	Text     *string   `json:"text"`
	Words    []rword   `json:"words"`
	Segments []segment `json:"segments"`
}

type segment struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	Text  string  `json:"text"`
	Words []rword `json:"words"`
}

type rword struct {
	Word  string  `json:"word"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// parseResponse reads a 200 response for an utterance of dur seconds. Word
// times are clamped into [0, dur] and made non-decreasing; non-finite times
// and empty words are dropped. Without word times, words are spread evenly
// over their segment (or the whole utterance) and Result.Estimated is set.
func parseResponse(body []byte, dur float64) (asr.Result, error) {
	var r response
	if err := json.Unmarshal(body, &r); err != nil {
		return asr.Result{}, fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	if r.Text == nil && r.Segments == nil {
		return asr.Result{}, fmt.Errorf("%w: no text (%s)", ErrBadResponse, snippet(body))
	}
	words := r.Words
	if len(words) == 0 {
		for _, s := range r.Segments {
			words = append(words, s.Words...)
		}
	}
	var res asr.Result
	prev := 0.0
	for _, w := range words {
		text := strings.TrimSpace(w.Word)
		if text == "" || !finite(w.Start) || !finite(w.End) {
			continue
		}
		start := clamp(w.Start, prev, dur)
		end := clamp(w.End, start, dur)
		res.Words = append(res.Words, asr.Word{Text: text, Start: start, End: end})
		prev = start
	}
	text := ""
	if r.Text != nil {
		text = strings.Join(strings.Fields(*r.Text), " ")
	} else {
		parts := make([]string, 0, len(r.Segments))
		for _, s := range r.Segments {
			parts = append(parts, s.Text)
		}
		text = strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
	}
	if len(res.Words) > 0 {
		if text == "" {
			text = asr.JoinWords(res.Words)
		}
		res.Text = text
		return res, nil
	}
	res.Text = text
	res.Estimated = text != ""
	// No word times: spread each timed segment's words over it, or the
	// whole text over the utterance (json fallback).
	spans := 0
	for _, s := range r.Segments {
		if finite(s.Start) && finite(s.End) && s.End > s.Start && strings.TrimSpace(s.Text) != "" {
			spans++
		}
	}
	if spans > 0 && spans == len(r.Segments) {
		for _, s := range r.Segments {
			res.Words = append(res.Words, spread(strings.Fields(s.Text), clamp(s.Start, 0, dur), clamp(s.End, 0, dur))...)
		}
	} else {
		res.Words = spread(strings.Fields(text), 0, dur)
	}
	return res, nil
}

// spread gives each word an equal share of [start, end].
func spread(words []string, start, end float64) []asr.Word {
	if len(words) == 0 {
		return nil
	}
	if end < start {
		end = start
	}
	step := (end - start) / float64(len(words))
	out := make([]asr.Word, len(words))
	for i, w := range words {
		out[i] = asr.Word{Text: w, Start: start + step*float64(i), End: start + step*float64(i+1)}
	}
	return out
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func clamp(v, lo, hi float64) float64 {
	if v > hi {
		v = hi
	}
	if v < lo {
		v = lo
	}
	return v
}
