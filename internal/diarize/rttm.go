package diarize

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// ErrRTTM reports a malformed RTTM line.
var ErrRTTM = errors.New("diarize: bad rttm")

// RTTMRecord is one SPEAKER line of an RTTM file.
type RTTMRecord struct {
	File string
	Turn
}

// WriteRTTM writes turns as NIST RTTM SPEAKER lines
// (`SPEAKER <file> 1 <start> <dur> <NA> <NA> <speaker> <NA> <NA>`), times in
// seconds with millisecond precision. fileID must not contain white space.
func WriteRTTM(w io.Writer, fileID string, turns []Turn) error {
	if fileID == "" || strings.ContainsAny(fileID, " \t\r\n") {
		return fmt.Errorf("%w: file id %q", ErrRTTM, fileID)
	}
	bw := bufio.NewWriter(w)
	for _, t := range turns {
		if t.Speaker == "" || strings.ContainsAny(t.Speaker, " \t\r\n") {
			return fmt.Errorf("%w: speaker %q", ErrRTTM, t.Speaker)
		}
		fmt.Fprintf(bw, "SPEAKER %s 1 %.3f %.3f <NA> <NA> %s <NA> <NA>\n",
			fileID, t.Start, t.End-t.Start, t.Speaker)
	}
	return bw.Flush()
}

// maxRTTMLine bounds one line so that a hostile file cannot make the reader
// buffer without limit; real lines are under 100 bytes.
const maxRTTMLine = 64 << 10

// ReadRTTM reads the SPEAKER lines of an RTTM file; other record types
// (SPKR-INFO, LEXEME, …), blank lines and lines starting with ";;" or "#"
// are skipped. Times must be finite and non-negative, durations
// non-negative.
func ReadRTTM(r io.Reader) ([]RTTMRecord, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxRTTMLine)
	var recs []RTTMRecord
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, ";;") || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if f[0] != "SPEAKER" {
			continue
		}
		if len(f) < 8 {
			return nil, fmt.Errorf("%w: line %d: %d fields, want at least 8", ErrRTTM, n, len(f))
		}
		start, err1 := strconv.ParseFloat(f[3], 64)
		dur, err2 := strconv.ParseFloat(f[4], 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%w: line %d: bad time %q %q", ErrRTTM, n, f[3], f[4])
		}
		if math.IsNaN(start) || math.IsInf(start, 0) || start < 0 ||
			math.IsNaN(dur) || math.IsInf(dur, 0) || dur < 0 || math.IsInf(start+dur, 0) {
			return nil, fmt.Errorf("%w: line %d: start %v duration %v", ErrRTTM, n, start, dur)
		}
		recs = append(recs, RTTMRecord{File: f[1], Turn: Turn{Speaker: f[7], Start: start, End: start + dur}})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRTTM, err)
	}
	return recs, nil
}
