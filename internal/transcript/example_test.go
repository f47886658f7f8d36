package transcript_test

import (
	"os"

	"github.com/parleyhq/parley/internal/transcript"
)

// Two tracks' segments on one timeline, exported as WebVTT.
func ExampleWrite() {
	t := &transcript.Transcript{
		Meeting: transcript.Meeting{ID: "standup"},
		Segments: transcript.Merge(
			[]transcript.Segment{{Speaker: "Ada", Start: 0.5, End: 2.6, Text: "go forward ten meters"}},
			[]transcript.Segment{{Speaker: "Bob", Start: 2.1, End: 3.3, Text: "yes"}},
		),
	}
	transcript.Write(os.Stdout, t, transcript.VTT)
	// Output:
	// WEBVTT
	//
	// 1
	// 00:00:00.500 --> 00:00:02.600
	// <v Ada>go forward ten meters
	//
	// 2
	// 00:00:02.100 --> 00:00:03.300
	// <v Bob>yes
}
