package sfu

import "time"

// epoch anchors nanotime; monotonic, unaffected by wall-clock steps.
var epoch = time.Now()

// nanotime returns monotonic nanoseconds since the process started.
func nanotime() int64 { return int64(time.Since(epoch)) }
