package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/transcript"
)

// benchWords is the vocabulary of the generated meetings: common words
// of both languages, so a search finds many candidates to rank.
var benchWords = strings.Fields(`the budget is late we need a decision today let us vote on it
	thank you everyone next item harbour works start in summer minutes approved report council
	le budget est en retard nous devons décider aujourd'hui passons à l'ordre du jour travaux du port
	commencent en été merci à tous le compte rendu est approuvé la séance est levée rapport conseil`)

// searchCorpus fills a store with n meetings of segs segments each
// (about a sentence every 3 s: 1 200 segments is an hour), each meeting
// granted to its own key; it returns the keys.
func searchCorpus(b *testing.B, s *DB, n, segs int) []string {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([]string, n)
	for m := range n {
		id := fmt.Sprintf("MT_bench%04d", m)
		keys[m] = fmt.Sprintf("key%04d", m)
		err := s.InTx(ctx, func(tx *Tx) error {
			if err := tx.CreateMeeting(transcript.Meeting{ID: id, Title: "room", Started: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(m) * time.Hour)}); err != nil {
				return err
			}
			if err := tx.GrantMeeting(Grant{MeetingID: id, RoomID: "room", Subject: "guest:" + keys[m], KeyHash: keys[m], Role: "participant"}); err != nil {
				return err
			}
			for i := range segs {
				words := make([]string, 6+rng.IntN(14))
				for j := range words {
					words[j] = benchWords[rng.IntN(len(benchWords))]
				}
				if _, err := insertSegment(ctx, tx.tx, id, transcript.Segment{SpeakerID: fmt.Sprint("S", i%6), Speaker: fmt.Sprint("Speaker ", i%6),
					Start: float64(3 * i), End: float64(3*i + 3), Text: strings.Join(words, " ")}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return keys
}

// BenchmarkSearch1000Meetings: one search over 1 000 one-hour meetings
// (1.2 million sentences), the caller holding the keys of all of them —
// every meeting may be read. Reported per query: a common word, a
// phrase, a rare word, an elided French phrase; and the worst case of
// the newest-first order, a common word for a caller who may read only
// the oldest meeting.
//
//	go test -run '^$' -bench Search1000 -benchtime 20x ./internal/store/
func BenchmarkSearch1000Meetings(b *testing.B) {
	s, err := OpenSQLite(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	keys := searchCorpus(b, s, 1000, 1200)
	b.Logf("corpus: 1000 meetings, 1.2 M sentences, written in %v", time.Since(start).Round(time.Second))
	// A rare word, said once.
	s.AppendSegment(context.Background(), "MT_bench0500", transcript.Segment{SpeakerID: "S1", Speaker: "S", Start: 1, End: 2, Text: "the Northwind merger"})
	for _, c := range []struct {
		name, q string
		keys    []string
		order   string
	}{
		{"common_word", "budget", keys, ""}, {"phrase", `"vote on it"`, keys, ""}, {"rare_word", "northwind", keys, ""},
		{"french_elision", "l'ordre du jour", keys, ""},
		// The caller may read only the oldest meeting: every newer match
		// is passed over.
		{"common_word_one_old_meeting", "budget", keys[:1], ""},
		// The order this replaced, in the same run: every match ranked.
		{"common_word_ranked_bm25", "budget", keys, "bm25(segments_fts)"},
	} {
		b.Run(c.name, func(b *testing.B) {
			var hits []Hit
			for b.Loop() {
				if c.order == "" {
					hits, err = s.Search(context.Background(), SearchQuery{Text: c.q, KeyHashes: c.keys})
				} else {
					hits, err = s.search(context.Background(), SearchQuery{Text: c.q, KeyHashes: c.keys}, c.order)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			if len(hits) == 0 {
				b.Fatalf("%q found nothing", c.q)
			}
		})
	}
}
