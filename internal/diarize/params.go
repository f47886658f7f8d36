package diarize

// params holds the tunable constants of the pipeline. Each value's comment
// gives the measurement that chose it (docs/diarization.md has the tables).
// They are not user options: Options carries what a caller may set.
type params struct {
	// Speech activity.
	voicedCPP       float32 // CPP above which a frame is voiced
	voicePad        int     // frames of speech allowed around voiced frames
	maxUnvoicedRun  int     // longest unvoiced stretch kept inside a region
	minSpeechFrames int     // shortest region kept
	bridgeFrames    int     // gaps shorter than this are bridged

	// Change detection.
	changeWin       int     // half-window W, frames
	changeStep      int     // evaluation step, frames
	minChangeWin    int     // shortest half-window near region ends
	changeThreshold float64 // GLR per frame

	// Clustering.
	bicLambda        float64
	minClusterFrames int
	clrThreshold     float64

	// Resegmentation.
	ubmComponents int
	ubmIters      int
	ubmMaxFrames  int
	relevance     float64
	switchPenalty float64
	resegIters    int
}

var defaultParams = params{
	// Measured on the dev mixes: non-speech frames (including the −44 dBFS
	// pink noise of an open microphone) have CPP p99 ≤ 0.15; speech frames
	// p50 0.15–0.5.
	voicedCPP:       0.2,
	voicePad:        15,
	maxUnvoicedRun:  60,
	minSpeechFrames: 20,
	// 0.3 s: the NIST convention the references follow.
	bridgeFrames: 30,

	changeWin:       100,
	changeStep:      5,
	minChangeWin:    50,
	changeThreshold: 1.0,

	bicLambda:        1.0,
	minClusterFrames: 50,
	clrThreshold:     0,

	ubmComponents: 32,
	ubmIters:      8,
	ubmMaxFrames:  30000,
	relevance:     8,
	switchPenalty: 30,
	resegIters:    3,
}
