package meetsynth

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Real voices (issue 13): meetings of real people's recordings, which
// Debian ships, rather than synthesised voices — the voices the dev set's
// real meeting takes its bridge prompts from, and two French ones:
//
//   - Allison Smith, US English (asterisk-core-sounds-en-wav; the dev
//     set's "bridge" voice, there from the G.722 files);
//   - June Wallack, Canadian French (asterisk-core-sounds-fr-wav);
//   - Armelle Desjardins, French (asterisk-prompt-fr-armelle, which
//     conflicts with the other French prompts: scripts/setup-debian.sh
//     unpacks it into the user's cache, parley/voices/armelle).
//
// All three are telephone prompts at 8 kHz (resampled to 16 kHz here), so
// no voice stands out by its bandwidth: what separates them is the voice.
// A turn is two to four prompts with short pauses, chosen by the turn's
// text (a "clips" Voice). RealTest is only ever scored, never tuned on.

var (
	allison = Voice{Engine: "clips", Name: "/usr/share/asterisk/sounds/en_US_f_Allison", Args: []string{".wav"}}
	june    = Voice{Engine: "clips", Name: "/usr/share/asterisk/sounds/fr_CA_f_June", Args: []string{".wav"}}
	armelle = Voice{Engine: "clips", Name: filepath.Join(voiceCache(), "armelle/usr/share/asterisk/sounds/fr"), Args: []string{".gsm"}}
)

// voiceCache is where scripts/setup-debian.sh unpacks voices.
func voiceCache() string {
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "parley", "voices")
}

// RealAvailable reports whether the real voices' packages are installed
// (scripts/setup-debian.sh installs them).
func RealAvailable() error {
	for _, v := range []Voice{allison, june, armelle} {
		if fs, err := clipFiles(v); err != nil || len(fs) < 50 {
			return fmt.Errorf("%w: recordings of %s: %d files, %v (scripts/setup-debian.sh installs them)", ErrTool, v.Name, len(fs), err)
		}
	}
	return nil
}

// turnTexts are the texts a real-voice meeting's turns draw from: each
// picks its own prompts.
func turnTexts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "main turn number " + strconv.Itoa(i)
	}
	return out
}

// RealTest lists the real-voice meetings (scored only).
func RealTest() []Spec {
	texts := turnTexts(400)
	bc := []string{"oui", "d'accord", "yes", "right"}
	return []Spec{
		{ID: "real-fr-01", Seed: 601, Turns: 30, Sentences: texts, Backchannels: bc, BackchannelProb: 0.2, InterruptProb: 0.2, NoiseFloorDBFS: -66,
			Participants: []Participant{
				{Label: "june", Voice: june, LevelDBFS: -22},
				{Label: "armelle", Voice: armelle, LevelDBFS: -25},
			}},
		{ID: "real-mix-02", Seed: 602, Turns: 45, Sentences: texts, Backchannels: bc, BackchannelProb: 0.2, InterruptProb: 0.2, NoiseFloorDBFS: -66,
			Participants: []Participant{
				{Label: "allison", Voice: allison, LevelDBFS: -21},
				{Label: "june", Voice: june, LevelDBFS: -24},
				{Label: "armelle", Voice: armelle, LevelDBFS: -23},
			}},
		{ID: "real-mix-03", Seed: 603, Turns: 60, Sentences: texts, Backchannels: bc, BackchannelProb: 0.3, InterruptProb: 0.25, NoiseFloorDBFS: -66,
			Reverb: smallRoom, RoomNoiseDBFS: -52, OpusKbps: 24,
			Participants: []Participant{
				{Label: "allison", Voice: allison, LevelDBFS: -20, Weight: 3},
				{Label: "june", Voice: june, LevelDBFS: -26, Weight: 1},
			}},
		{ID: "real-mix-04", Seed: 604, Turns: 90, Sentences: texts, Backchannels: bc, BackchannelProb: 0.3, InterruptProb: 0.2, NoiseFloorDBFS: -66,
			Reverb: bigRoom, OpusKbps: 16,
			Participants: []Participant{
				{Label: "allison", Voice: allison, LevelDBFS: -22},
				{Label: "june", Voice: june, LevelDBFS: -22},
				{Label: "armelle", Voice: armelle, LevelDBFS: -22},
			}},
	}
}

// clipFiles lists a clips voice's recordings, sorted.
func clipFiles(v Voice) ([]string, error) {
	ext := ".wav"
	if len(v.Args) > 0 {
		ext = v.Args[0]
	}
	ents, err := os.ReadDir(v.Name)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ext) {
			out = append(out, filepath.Join(v.Name, e.Name()))
		}
	}
	slices.Sort(out)
	return out, nil
}

// clipTurn is a clips voice's turn for text: two to four of its
// recordings (one for a back-channel: a text under 12 characters), chosen
// by a hash of the text, each trimmed, with 0.15–0.45 s pauses between.
func clipTurn(ctx context.Context, v Voice, text string) ([]float32, error) {
	files, err := clipFiles(v)
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("%w: no recordings in %s (%v)", ErrTool, v.Name, err)
	}
	h := fnv.New64a()
	h.Write([]byte(v.Name + "\x00" + text))
	x := h.Sum64()
	n := 2 + int(x%3)
	if len(text) < 12 {
		n = 1
	}
	var out []float32
	for i := range n {
		x = x*6364136223846793005 + 1442695040888963407
		clip, err := soxRead(ctx, files[int((x>>33)%uint64(len(files)))], v.Effects)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			out = append(out, make([]float32, SampleRate*(15+int((x>>20)%31))/100)...)
		}
		out = append(out, trim(clip)...)
	}
	return out, nil
}
