// Package devset locates the shared speech dev set
// (../shared/testdata/speech next to the project root) for tests and
// benchmarks, and lists its meetings.
package devset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// ErrNotFound means the dev set is not where the project layout puts it.
var ErrNotFound = errors.New("speech dev set not found")

// Dir returns the dev set directory. PARLEY_DEVSET overrides the default,
// which is ../shared/testdata/speech relative to the module root (the
// directory holding go.mod), found by walking up from the working directory.
func Dir() (string, error) {
	if d := os.Getenv("PARLEY_DEVSET"); d != "" {
		return checkDir(d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return checkDir(filepath.Join(d, "..", "shared", "testdata", "speech"))
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%w: no go.mod above %s", ErrNotFound, wd)
		}
	}
}

// ToolsDir returns ../shared/tools (the der and wer scorers).
func ToolsDir() (string, error) {
	d, err := Dir()
	if err != nil {
		return "", err
	}
	return filepath.Clean(filepath.Join(d, "..", "..", "tools")), nil
}

// BuildTool compiles one of the shared scorers (ToolsDir's cmd/NAME:
// "der", "wer") into dir and returns the binary's path.
func BuildTool(ctx context.Context, dir, name string) (string, error) {
	tools, err := ToolsDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/"+name)
	cmd.Dir = tools
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s: %v\n%s", name, err, out)
	}
	return bin, nil
}

func checkDir(d string) (string, error) {
	d = filepath.Clean(d)
	if _, err := os.Stat(filepath.Join(d, "index.json")); err != nil {
		return "", fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return d, nil
}

// Meeting is one dev-set meeting and the paths of its files.
type Meeting struct {
	ID         string
	Lang       string
	Mix        string            // audio/<id>.wav
	Stems      map[string]string // speaker name → stems/<id>/<speaker>.flac
	RTTM       string            // rttm/<id>.rttm
	Transcript string            // transcripts/<id>.json
	UEM        string            // uem/<id>.uem
}

// Speakers returns the stem speaker names in sorted order.
func (m Meeting) Speakers() []string {
	names := make([]string, 0, len(m.Stems))
	for n := range m.Stems {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Meetings lists the dev set's meetings in id order.
func Meetings() ([]Meeting, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	mixes, err := filepath.Glob(filepath.Join(dir, "audio", "*.wav"))
	if err != nil {
		return nil, err
	}
	sort.Strings(mixes)
	var out []Meeting
	for _, mix := range mixes {
		id := strings.TrimSuffix(filepath.Base(mix), ".wav")
		m := Meeting{
			ID:         id,
			Lang:       langOf(id),
			Mix:        mix,
			Stems:      map[string]string{},
			RTTM:       filepath.Join(dir, "rttm", id+".rttm"),
			Transcript: filepath.Join(dir, "transcripts", id+".json"),
			UEM:        filepath.Join(dir, "uem", id+".uem"),
		}
		stems, _ := filepath.Glob(filepath.Join(dir, "stems", id, "*.flac"))
		for _, s := range stems {
			m.Stems[strings.TrimSuffix(filepath.Base(s), ".flac")] = s
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no meetings in %s", ErrNotFound, dir)
	}
	return out, nil
}

// Get returns one meeting by id.
func Get(id string) (Meeting, error) {
	ms, err := Meetings()
	if err != nil {
		return Meeting{}, err
	}
	for _, m := range ms {
		if m.ID == id {
			return m, nil
		}
	}
	return Meeting{}, fmt.Errorf("%w: meeting %q", ErrNotFound, id)
}

// langOf reads the language from the id convention dev-<kind>-<lang>-<n>.
func langOf(id string) string {
	parts := strings.Split(id, "-")
	if len(parts) >= 3 {
		return parts[2]
	}
	return ""
}

// Segment is one line of a reference transcript.
type Segment struct {
	Speaker string  `json:"speaker"`
	Start   float64 `json:"start"`
	End     float64 `json:"end"`
	Text    string  `json:"text"`
}

// ReadTranscript reads a reference transcript JSON file.
func ReadTranscript(path string) ([]Segment, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var segs []Segment
	if err := json.Unmarshal(b, &segs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return segs, nil
}
