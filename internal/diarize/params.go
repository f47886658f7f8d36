package diarize

// params holds the tunable constants of the pipeline. They are not user
// options (Options carries those); docs/diarization.md gives, for each,
// the measurement that chose it. Tests and the tuning harness change them
// through a copy of defaultParams.
type params struct {
	// Change detection (segment.go).
	changeWin       int     // half-window W, frames
	changeStep      int     // evaluation step, frames
	minChangeWin    int     // shortest half-window near region ends
	changeThreshold float64 // GLR per frame that marks a change

	// First clustering (cluster.go).
	bicLambda        float64 // ΔBIC penalty weight of the first AHC
	minClusterFrames int     // shorter segments wait for the resegmentation
	initClusters     int     // clusters the refinement starts from
	maxAHCItems      int     // above this many segments, AHC runs in chunks

	// Window embeddings, count and spectral clustering (count.go).
	count countParams

	// Refinement (refine.go).
	mergeRatio      float64 // merge while a pair's ΔBIC/penalty is below…
	mergeDivergence float64 // …or its divergence per frame is below
	minTurnFrames   int     // a speaker needs one turn this long
	sandwichFrac    float64 // share of turns squeezed between two others that marks a transition cluster
	transitionRun   int     // …and whose median turn is shorter than this
	transitionShare float64 // …and which hold less than this share of an average cluster's speech
	dissolveDiv     int     // dissolve up to (k−1)/dissolveDiv transition clusters per pass

	// Resegmentation (reseg.go).
	ubmComponents int
	ubmIters      int
	ubmMaxFrames  int
	topC          int     // UBM components scored per frame
	relevance     float64 // MAP relevance factor
	switchPenalty float64 // log-likelihood cost of a speaker change
	resegIters    int     // resegmentation passes between merges
	loopStep      int     // frames per Viterbi step in those passes
	finalIters    int     // passes after the last merge

	// Overlap (overlap.go): the classifier of overlapped frames; nil
	// labels none.
	overlap *logisticModel
}

var defaultParams = params{
	changeWin:       100, // 1 s each side
	changeStep:      5,
	minChangeWin:    50,
	changeThreshold: 1.0,

	bicLambda:        1.0,
	minClusterFrames: 50,
	initClusters:     12,
	maxAHCItems:      400,

	count: countParams{
		win: 150, hop: 50, minWin: 100, // 1.5 s windows every 0.5 s
		minWindows:    150, // 75 s of speech
		minCapWindows: 40,
		maxWindows:    800,
		dims:          30,
		relevance:     4,
		maxK:          12,
		ubms:          4,
	},

	mergeRatio:      2.0,
	mergeDivergence: 1.3,
	minTurnFrames:   50,
	sandwichFrac:    0.65,
	transitionRun:   120,
	transitionShare: 0.7,
	dissolveDiv:     4,

	ubmComponents: 32,
	ubmIters:      8,
	ubmMaxFrames:  30000,
	topC:          4,
	relevance:     8,
	switchPenalty: 30,
	resegIters:    2,
	loopStep:      1,
	finalIters:    3,

	overlap: overlapModel,
}
