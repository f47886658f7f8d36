package transcript

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// sample has what exports must get right: overlapping speech of two
// speakers (two segments, ordered by start), a name with a space, markup
// characters in text, a word list, events, times that are not exact in
// binary floating point, and an hour-long meeting.
func sample() *Transcript {
	t := &Transcript{
		Meeting:  Meeting{ID: "weekly-sync", Title: "Weekly sync", Started: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)},
		Speakers: []Speaker{{ID: "p1", Name: "Ada Lovelace"}, {ID: "p2", Name: "bob"}},
		Segments: []Segment{
			{SpeakerID: "p2", Speaker: "bob", Start: 2.1, End: 3.3, Text: "yes <exactly> & more",
				Words: []Word{{"yes", 2.1, 2.4}, {"<exactly>", 2.4, 3.0}, {"&", 3.0, 3.1}, {"more", 3.1, 3.3}}},
			{SpeakerID: "p1", Speaker: "Ada Lovelace", Start: 0.5, End: 2.6000000000000001, Text: "go forward ten meters",
				Words: []Word{{"go", 0.5, 0.7}, {"forward", 0.7, 1.2}, {"ten", 1.2, 1.6}, {"meters", 1.6, 2.6}}},
			{SpeakerID: "p1", Speaker: "Ada Lovelace", Start: 3725.0004, End: 3727.9996, Text: "see you --> next *week*"},
		},
		Events: []Event{
			{At: 0, Kind: TranscriptionOn},
			{At: 3.0, Kind: OptOut, SpeakerID: "p3", Speaker: "carol"},
		},
	}
	t.Sort()
	return t
}

func TestExportGolden(t *testing.T) {
	for _, f := range Formats {
		if f == ODT || f == DOCX {
			continue // ZIPs: TestOfficeExports reads them back, LibreOffice opens them
		}
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, sample(), f); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "sample."+string(f))
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s differs from %s:\n%s", f, golden, buf.String())
			}
		})
	}
}

func TestSortKeepsOverlapsApart(t *testing.T) {
	tr := sample()
	if len(tr.Segments) != 3 {
		t.Fatalf("%d segments", len(tr.Segments))
	}
	if tr.Segments[0].Speaker != "Ada Lovelace" || tr.Segments[1].Speaker != "bob" {
		t.Fatalf("order %q, %q", tr.Segments[0].Speaker, tr.Segments[1].Speaker)
	}
	// Overlap: bob starts (2.1) before Ada ends (2.6); both stay whole.
	if tr.Segments[0].End != 2.6 || tr.Segments[1].Start != 2.1 {
		t.Fatalf("overlap altered: %+v", tr.Segments[:2])
	}
}

func TestMerge(t *testing.T) {
	a := []Segment{{Speaker: "a", Start: 0, End: 2}, {Speaker: "a", Start: 5, End: 6}}
	b := []Segment{{Speaker: "b", Start: 1, End: 3}, {Speaker: "b", Start: 5, End: 5.5}}
	got := Merge(a, b)
	var order []string
	for _, s := range got {
		order = append(order, s.Speaker)
	}
	if strings.Join(order, "") != "abba" {
		t.Fatalf("order %v", order)
	}
	if sp := SpeakersOf(got); len(sp) != 2 || sp[0].Name != "a" {
		t.Fatalf("speakers %+v", sp)
	}
}

// TestJSONShape checks the documented JSON form by decoding it generically.
func TestJSONShape(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, sample(), JSON); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Meeting  map[string]any
		Speakers []map[string]any
		Segments []struct {
			Speaker    string
			Start, End float64
			Text       string
			Words      []struct {
				Word       string
				Start, End float64
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Meeting["id"] != "weekly-sync" || len(doc.Speakers) != 2 || len(doc.Segments) != 3 {
		t.Fatalf("%+v", doc)
	}
	s := doc.Segments[0]
	if s.Speaker != "Ada Lovelace" || s.End != 2.6 || len(s.Words) != 4 || s.Words[1].Word != "forward" {
		t.Fatalf("segment %+v", s)
	}
	if doc.Segments[2].Start != 3725 || doc.Segments[2].End != 3728 {
		t.Fatalf("ms rounding: %+v", doc.Segments[2])
	}
}

func TestParseFormat(t *testing.T) {
	for _, s := range []string{"json", "VTT", ".srt", "md", "markdown", "txt", "rttm", "ODT", ".docx"} {
		if _, err := ParseFormat(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	if _, err := ParseFormat("pdf"); !errors.Is(err, ErrFormat) {
		t.Fatalf("pdf: %v", err)
	}
	if err := Write(&bytes.Buffer{}, sample(), "pdf"); !errors.Is(err, ErrFormat) {
		t.Fatalf("Write pdf: %v", err)
	}
}
