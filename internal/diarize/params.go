package diarize

// params holds the tunable constants of the pipeline. Each value's comment
// gives the measurement that chose it (docs/diarization.md has the tables).
// They are not user options: Options carries what a caller may set.
type params struct {
	ownFrontEnd bool
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
	initClusters     int     // clusters the refinement starts from
	mergeRatio       float64 // merge while the lowest ΔBIC/penalty is below
	mergeDivergence  float64 // ... or while its divergence per frame is below
	minTurnFrames    int     // a speaker needs at least one turn this long
	sandwichFrac     float64 // share of sandwiched turns that marks a transition cluster
	changeGuard      int     // frames each side of a speaker change left out of models
	awInit           int     // initial clusters of the Ajmera–Wooters stage (0 = off)
	awThreshold      float64
	cvMerge          bool
	bicOnly          bool
	t2Threshold      float64
	cvThreshold      float64
	awGauss          int // Gaussians per initial cluster
	awIters          int // EM iterations per (re)training
	awFramesPerGauss int // initial Gaussians per cluster: one per this many frames (≤ awGauss)

	// Resegmentation.
	ubmComponents  int
	ubmIters       int
	ubmMaxFrames   int
	relevance      float64
	mlModels       bool // speaker models trained by EM on their own frames (else MAP from the UBM)
	adaptML        bool // speaker models: EM from the UBM on their own frames
	finalAdaptML   bool
	speakerGauss   int // at most this many Gaussians per speaker model
	framesPerGauss int // one Gaussian per this many training frames
	speakerIters   int // EM iterations
	switchPenalty  float64
	resegIters     int
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
	initClusters:     12,
	mergeRatio:       1.8,
	mergeDivergence:  1.6,
	minTurnFrames:    50,
	sandwichFrac:     0.65,
	changeGuard:      0,
	awInit:           0,
	awGauss:          5,
	awIters:          5,
	awFramesPerGauss: 300,

	ubmComponents:  32,
	ubmIters:       8,
	ubmMaxFrames:   30000,
	relevance:      8,
	mlModels:       false,
	adaptML:        false,
	speakerGauss:   16,
	framesPerGauss: 100,
	speakerIters:   3,
	switchPenalty:  30,
	resegIters:     3,
}
