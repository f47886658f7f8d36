package room

import (
	"sort"
	"strings"
	"time"
)

// speakerLoop picks the active speaker from the audio levels every
// SpeakerInterval and tells the room when it changes.
func (r *Room) speakerLoop() {
	tick := time.NewTicker(r.m.opts.SpeakerInterval)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-tick.C:
		}
		r.mu.Lock()
		best, bestLevel := "", 0.0
		var speaking []string
		for _, t := range r.tracks {
			if t.Kind() != "audio" || t.Muted() {
				continue
			}
			level, voice := t.AudioLevel()
			// 127 - level is -dBov; voice below -50 dBov is noise.
			if !voice || level < 127-50 {
				continue
			}
			owner := t.Owner().ID()
			speaking = append(speaking, owner)
			if level > bestLevel {
				best, bestLevel = owner, level
			}
		}
		sort.Strings(speaking)
		// Keep the current speaker while they still speak: no flapping
		// between two people talking at similar levels.
		if r.speaker != "" && contains(speaking, r.speaker) {
			best = r.speaker
		}
		changed := best != r.speaker || strings.Join(speaking, ",") != strings.Join(r.speaking, ",")
		r.speaker, r.speaking = best, speaking
		r.mu.Unlock()
		if changed {
			r.broadcast(ActiveSpeaker{ParticipantID: best, Speaking: speaking})
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
