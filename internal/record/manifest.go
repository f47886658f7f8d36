package record

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/objects"
	"github.com/parleyhq/parley/internal/room"
)

// Manifest describes a meeting's recording: manifest.json next to its
// files. Times are seconds on the meeting clock (from MeetingStarted),
// to the millisecond.
type Manifest struct {
	Version   int       `json:"version"`
	MeetingID string    `json:"meeting_id"`
	Room      string    `json:"room"`
	Started   time.Time `json:"meeting_started"`
	// Node is the node that recorded it ("" before nodes were named).
	Node string `json:"node,omitempty"`
	// Sessions are the stretches the recording was on (a moderator may
	// stop and start it again).
	Sessions []Session `json:"sessions"`
	People   []Person  `json:"people"`
	Files    []File    `json:"files"`
	Gaps     []Gap     `json:"gaps"`
	// Complete: the recording was stopped and every file closed.
	Complete bool `json:"complete"`
	// Interrupted: the server stopped without closing the recording (a
	// crash); each file is readable and its end is within a few seconds
	// of the stop.
	Interrupted bool `json:"interrupted,omitempty"`
}

// Session is one stretch of recording.
type Session struct {
	Start       float64  `json:"start"`
	End         *float64 `json:"end"` // null while recording
	By          string   `json:"by,omitempty"`
	ByName      string   `json:"by_name,omitempty"`
	EndedBy     string   `json:"ended_by,omitempty"`
	EndedByName string   `json:"ended_by_name,omitempty"`
}

// Person is someone recorded, the same across reconnections (each
// reconnection is a new participant id).
type Person struct {
	Key            string   `json:"key"` // P1, P2, …: names their files
	Name           string   `json:"name"`
	ParticipantIDs []string `json:"participant_ids"`
	// Identity is a pseudonym of who joined (a hash of their sign-in or
	// guest identity with the meeting id): the same person across
	// reconnections, and nothing outside this meeting.
	Identity string `json:"identity"`
}

// File is one track's recording. Its media time 0 is Start on the
// meeting clock; audio files are continuous (muted and lost stretches
// are filled with silence frames), video files carry each frame's time.
type File struct {
	Name            string `json:"name"` // under the meeting's folder
	Person          string `json:"person"`
	ParticipantID   string `json:"participant_id"`
	ParticipantName string `json:"participant_name"`
	Kind            string `json:"kind"`   // audio | video
	Source          string `json:"source"` // microphone | camera | screen | screen_audio
	Codec           string `json:"codec"`
	Format          string `json:"format"` // ogg | ivf | h264
	// SharedMic: a microphone several people shared (its transcript is
	// diarized, not this file's speaker's alone).
	SharedMic bool    `json:"shared_mic,omitempty"`
	Start     float64 `json:"start"`
	End       float64 `json:"end"`
	Bytes     int64   `json:"bytes"`
	Packets   uint64  `json:"packets"`
	// Dropped packets: late, malformed, or lost to a full queue.
	Dropped uint64 `json:"dropped"`
	Open    bool   `json:"open"`
}

// Gap is a stretch without media: a track muted (mute), the recording
// stopped and started again (pause, for everyone), a person's track
// ended and came back (reconnect: a new participant; unpublished: the
// same participant published again).
type Gap struct {
	Person string  `json:"person,omitempty"`
	Source string  `json:"source,omitempty"`
	File   string  `json:"file,omitempty"`
	From   float64 `json:"from"`
	To     float64 `json:"to"`
	Reason string  `json:"reason"`
}

// person returns the key of the person with this identity, adding them
// (or their new participant id) to the manifest.
func (man *Manifest) person(subject string, who room.Speaker) string {
	identity := ""
	if subject != "" {
		h := sha256.Sum256([]byte(man.MeetingID + "\x00" + subject))
		identity = hex.EncodeToString(h[:8])
	}
	for i := range man.People {
		p := &man.People[i]
		if p.Identity == identity && (identity != "" || p.Name == who.Name) {
			if !contains(p.ParticipantIDs, who.ID) {
				p.ParticipantIDs = append(p.ParticipantIDs, who.ID)
			}
			return p.Key
		}
	}
	key := fmt.Sprintf("P%d", len(man.People)+1)
	man.People = append(man.People, Person{Key: key, Name: who.Name, ParticipantIDs: []string{who.ID}, Identity: identity})
	return key
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (man *Manifest) encode() ([]byte, error) { return json.MarshalIndent(man, "", "  ") }

// ReadManifest reads a meeting's manifest (objects.ErrNotFound when the
// meeting was never recorded).
func ReadManifest(st objects.Store, meetingID string) (*Manifest, error) {
	rd, err := st.Open(ManifestKey(meetingID))
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	b, err := io.ReadAll(io.LimitReader(rd, 16<<20))
	if err != nil {
		return nil, err
	}
	man := &Manifest{}
	if err := json.Unmarshal(b, man); err != nil {
		return nil, fmt.Errorf("manifest of %s: %w", meetingID, err)
	}
	return man, nil
}

// Unfinished lists the meetings whose manifest is not complete and that
// node recorded (or no node named): a crash left their recording open (at
// startup, when nothing records on that node yet; another node sharing
// the bucket may be recording its own).
func Unfinished(st objects.Store, node string) ([]string, error) {
	list, err := st.List("")
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, o := range list {
		id, ok := strings.CutSuffix(o.Key, "/manifest.json")
		if !ok || strings.Contains(id, "/") {
			continue
		}
		man, err := ReadManifest(st, id)
		if err != nil {
			return ids, err
		}
		if !man.Complete && (man.Node == "" || man.Node == node) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// recoverManifest closes a manifest a crash left open: each open file
// is marked closed at the end the manifest last recorded (within
// SyncEvery of the crash), the session ended there, and the manifest
// marked interrupted.
func recoverManifest(man *Manifest) {
	end := 0.0
	for i := range man.Files {
		f := &man.Files[i]
		f.Open = false
		if f.Start < 0 {
			f.Start, f.End = 0, 0
		}
		end = max(end, f.End)
	}
	if n := len(man.Sessions); n > 0 && man.Sessions[n-1].End == nil {
		end = max(end, man.Sessions[n-1].Start)
		man.Sessions[n-1].End = &end
	}
	man.Complete, man.Interrupted = true, true
}
