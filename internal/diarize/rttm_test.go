package diarize

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestRTTMRoundTrip(t *testing.T) {
	in := []Turn{
		{Speaker: "SPEAKER_1", Start: 0.5, End: 2.25},
		{Speaker: "SPEAKER_2", Start: 2.0, End: 3.5},
		{Speaker: "SPEAKER_1", Start: 4.125, End: 10.001},
	}
	var b bytes.Buffer
	if err := WriteRTTM(&b, "meeting-1", in); err != nil {
		t.Fatal(err)
	}
	want := "SPEAKER meeting-1 1 0.500 1.750 <NA> <NA> SPEAKER_1 <NA> <NA>\n"
	if first, _, _ := strings.Cut(b.String(), "\n"); first+"\n" != want {
		t.Errorf("first line %q, want %q", first, want)
	}
	recs, err := ReadRTTM(&b)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(in) {
		t.Fatalf("%d records, want %d", len(recs), len(in))
	}
	for i, r := range recs {
		if r.File != "meeting-1" || r.Speaker != in[i].Speaker ||
			math.Abs(r.Start-in[i].Start) > 0.0006 || math.Abs(r.End-in[i].End) > 0.0011 {
			t.Errorf("record %d = %+v, want %+v", i, r, in[i])
		}
	}
}

func TestReadRTTMSkipsOtherLines(t *testing.T) {
	in := `;; comment
# another
SPKR-INFO m 1 <NA> <NA> <NA> unknown alice <NA> <NA>

SPEAKER m 1 1.0 2.0 <NA> <NA> alice <NA> <NA>
LEXEME m 1 1.0 0.5 hello lex alice <NA>
SPEAKER m 1 3 1 <NA> <NA> bob
`
	recs, err := ReadRTTM(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Speaker != "alice" || recs[0].End != 3 || recs[1].Speaker != "bob" || recs[1].Start != 3 {
		t.Errorf("got %+v", recs)
	}
}

func TestReadRTTMErrors(t *testing.T) {
	for _, in := range []string{
		"SPEAKER m 1 1.0 2.0 <NA> <NA>\n",                                        // too few fields
		"SPEAKER m 1 x 2.0 <NA> <NA> a <NA> <NA>\n",                              // bad start
		"SPEAKER m 1 1.0 -2 <NA> <NA> a <NA> <NA>\n",                             // negative duration
		"SPEAKER m 1 -1 2 <NA> <NA> a <NA> <NA>\n",                               // negative start
		"SPEAKER m 1 NaN 2 <NA> <NA> a <NA> <NA>\n",                              // not a number
		"SPEAKER m 1 1e308 1e308 <NA> <NA> a <NA> <NA>\n",                        // overflows
		"SPEAKER m 1 0 1 <NA> <NA> a " + strings.Repeat("x", maxRTTMLine) + "\n", // line too long
	} {
		if _, err := ReadRTTM(strings.NewReader(in)); !errors.Is(err, ErrRTTM) {
			t.Errorf("%.60q: err = %v, want ErrRTTM", in, err)
		}
	}
}

func TestWriteRTTMRejectsSpaces(t *testing.T) {
	var b bytes.Buffer
	if err := WriteRTTM(&b, "two words", nil); !errors.Is(err, ErrRTTM) {
		t.Errorf("file id with a space: err = %v", err)
	}
	if err := WriteRTTM(&b, "m", []Turn{{Speaker: "a b", Start: 0, End: 1}}); !errors.Is(err, ErrRTTM) {
		t.Errorf("speaker with a space: err = %v", err)
	}
}

func FuzzReadRTTM(f *testing.F) {
	f.Add("SPEAKER m 1 1.0 2.0 <NA> <NA> alice <NA> <NA>\n")
	f.Add(";; x\nSPEAKER m 1 0 0 <NA> <NA> a\nSPKR-INFO m 1\n")
	f.Add("SPEAKER m 1 1e9 1 <NA> <NA> a <NA> <NA>\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		recs, err := ReadRTTM(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrRTTM) {
				t.Fatalf("error not wrapping ErrRTTM: %v", err)
			}
			return
		}
		for _, r := range recs {
			if !(r.Start >= 0) || !(r.End >= r.Start) || math.IsInf(r.End, 0) || r.Speaker == "" || r.File == "" {
				t.Fatalf("bad record %+v from %q", r, in)
			}
		}
		// What was read writes back and reads again the same (ms precision).
		var b bytes.Buffer
		for _, r := range recs {
			if err := WriteRTTM(&b, r.File, []Turn{r.Turn}); err != nil {
				t.Fatalf("rewriting %+v: %v", r, err)
			}
		}
		again, err := ReadRTTM(&b)
		if err != nil || len(again) != len(recs) {
			t.Fatalf("reread: %v, %d records of %d", err, len(again), len(recs))
		}
		for i := range again {
			tol := 5e-4 + 1e-12*recs[i].End // ms rounding, plus float64 rounding of large times
			if again[i].Speaker != recs[i].Speaker || again[i].File != recs[i].File ||
				math.Abs(again[i].Start-recs[i].Start) > tol || math.Abs(again[i].End-recs[i].End) > 2*tol {
				t.Fatalf("reread %+v, want %+v", again[i], recs[i])
			}
		}
	})
}
