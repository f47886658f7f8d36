// Package record records meetings track by track, without transcoding:
// each participant's audio as Ogg/Opus, camera and screen share as IVF
// (VP8) or an H.264 byte stream, each file with its start offset on the
// meeting clock, and a JSON manifest of files, people, offsets and gaps
// (mute, pause, reconnect). Files go through package objects (local disk
// today, a bucket when several machines share storage).
//
// Recording is a tap like speech: packets are copied off the forwarding
// path into a bounded queue and written from the tap's goroutine; a
// recorder that falls behind drops and counts, it never slows forwarding.
// Every open file is synced at least every SyncEvery (default 2 s) and
// the manifest rewritten with it, so a crash (kill -9, power loss) loses
// at most that much and leaves every file readable.
package record

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/internal/objects"
	"github.com/parleyhq/parley/internal/room"
	"github.com/parleyhq/parley/internal/sfu"
)

// Options configures a Recorder.
type Options struct {
	Objects objects.Store
	// Node names this node in the manifests it writes (several nodes
	// may share one bucket: each finalizes only what it left open).
	Node   string
	Logger *slog.Logger
	// SyncEvery is how often open files are synced and the manifest
	// rewritten (default 2 s; at most 5 s is promised).
	SyncEvery  time.Duration
	Registerer prometheus.Registerer
	// Finished, when set, is called after a recording's manifest is final
	// (the meeting's recording stopped or the meeting ended).
	Finished func(meetingID string)
	// Ended, when set, is called when a recorded meeting is over (its
	// room closed).
	Ended func(meetingID string)
}

// Recorder implements room.Recorder.
type Recorder struct {
	opts    Options
	log     *slog.Logger
	dropped prometheus.Counter
	bytes   prometheus.Counter

	mu     sync.Mutex
	active map[string]*Meeting // by meeting id
	wg     sync.WaitGroup
}

var _ room.Recorder = (*Recorder)(nil)

// New returns a recorder writing into o.Objects.
func New(o Options) *Recorder {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SyncEvery <= 0 {
		o.SyncEvery = 2 * time.Second
	}
	r := &Recorder{opts: o, log: o.Logger, active: map[string]*Meeting{},
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_recording_packets_dropped_total",
			Help: "Packets a recording did not write: late, malformed, or lost to a full queue (counted by the SFU as tap_full)."}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_recording_bytes_total",
			Help: "Bytes written to recording files."}),
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(r.dropped, r.bytes)
	}
	return r
}

// ManifestKey is the object key of a meeting's manifest; its files are
// under the same folder.
func ManifestKey(meetingID string) string { return meetingID + "/manifest.json" }

// StartRecording implements room.Recorder. A meeting recorded before
// (stopped, then started again) continues its manifest: the pause is a
// gap.
func (rc *Recorder) StartRecording(m room.MeetingInfo, by room.Speaker) (room.LiveRecording, error) {
	if err := objects.CheckKey(m.ID); err != nil {
		return nil, err
	}
	man, err := ReadManifest(rc.opts.Objects, m.ID)
	switch {
	case errors.Is(err, objects.ErrNotFound):
		man = &Manifest{Version: 1, MeetingID: m.ID, Room: m.Title, Started: m.Started, Node: rc.opts.Node}
	case err != nil:
		return nil, err
	}
	mt := &Meeting{rc: rc, man: man, started: m.Started, tracks: map[string]*trackRec{}, muted: map[string]float64{},
		stop: make(chan struct{}), done: make(chan struct{})}
	now := mt.clock()
	if n := len(man.Sessions); n > 0 && man.Sessions[n-1].End != nil {
		man.Gaps = append(man.Gaps, Gap{From: *man.Sessions[n-1].End, To: now, Reason: "pause"})
	}
	man.Sessions = append(man.Sessions, Session{Start: now, By: by.ID, ByName: by.Name})
	man.Complete, man.Interrupted = false, false
	if err := mt.save(); err != nil {
		return nil, err
	}
	rc.mu.Lock()
	rc.active[m.ID] = mt
	rc.mu.Unlock()
	rc.wg.Add(1)
	go func() {
		defer rc.wg.Done()
		mt.syncLoop()
	}()
	rc.log.Info("recording started", "meeting", m.ID)
	return mt, nil
}

// MeetingEnded implements room.Recorder: a meeting that was recorded
// is handed to Options.Ended (its final pass may run now).
func (rc *Recorder) MeetingEnded(m room.MeetingInfo) {
	if rc.opts.Ended == nil || objects.CheckKey(m.ID) != nil {
		return
	}
	if _, err := ReadManifest(rc.opts.Objects, m.ID); err == nil {
		rc.opts.Ended(m.ID)
	}
}

// Recording reports whether a meeting is being recorded now.
func (rc *Recorder) Recording(meetingID string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.active[meetingID] != nil
}

// Close ends every recording still on (the server is stopping) and
// waits for their files to be closed.
func (rc *Recorder) Close(ctx context.Context) error {
	rc.mu.Lock()
	var all []*Meeting
	for _, m := range rc.active {
		all = append(all, m)
	}
	rc.mu.Unlock()
	for _, m := range all {
		m.End(room.Speaker{})
	}
	done := make(chan struct{})
	go func() { rc.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("recordings still closing: %w", ctx.Err())
	}
}

// Meeting is one meeting's recording while it is on.
type Meeting struct {
	rc      *Recorder
	started time.Time

	mu     sync.Mutex
	man    *Manifest
	tracks map[string]*trackRec // open, by track id
	muted  map[string]float64   // track id → when it was muted
	ended  bool
	stop   chan struct{}
	done   chan struct{}
}

var _ room.LiveRecording = (*Meeting)(nil)

func (m *Meeting) clock() float64 { return ms(time.Since(m.started).Seconds()) }

// ms rounds seconds to the millisecond, as the manifest gives them.
func ms(s float64) float64 { return float64(int64(s*1000+0.5)) / 1000 }

// Attach implements room.LiveRecording.
func (m *Meeting) Attach(t *sfu.Track, who room.Speaker, person string) {
	info := t.Info()
	m.mu.Lock()
	if m.ended || m.tracks[t.ID()] != nil {
		m.mu.Unlock()
		return
	}
	pkey := m.man.person(person, who)
	n := 1
	for _, f := range m.man.Files {
		if f.Person == pkey && f.Source == info.Source {
			n++
		}
	}
	name, format := fmt.Sprintf("%s-%s-%d", pkey, info.Source, n), ""
	switch info.Codec {
	case "audio/opus":
		name, format = name+".ogg", "ogg"
	case "video/VP8":
		name, format = name+".ivf", "ivf"
	case "video/H264":
		name, format = name+".h264", "h264"
	default:
		m.mu.Unlock()
		m.rc.log.Warn("track not recorded: codec not supported", "codec", info.Codec, "track", t.ID())
		return
	}
	w, err := m.rc.opts.Objects.Create(m.man.MeetingID + "/" + name)
	if err != nil {
		m.mu.Unlock()
		m.rc.log.Error("recording file not created", "file", name, "err", err)
		return
	}
	file := File{Name: name, Person: pkey, ParticipantID: who.ID, ParticipantName: who.Name, Kind: info.Kind, Source: info.Source,
		Codec: info.Codec, Format: format, Start: -1, Open: true, SharedMic: info.SharedMic}
	// A person seen before whose last file of this source ended: they
	// reconnected (or published again).
	for i := len(m.man.Files) - 1; i >= 0; i-- {
		if f := m.man.Files[i]; f.Person == pkey && f.Source == info.Source && !f.Open {
			reason := "unpublished"
			if f.ParticipantID != who.ID {
				reason = "reconnect"
			}
			m.man.Gaps = append(m.man.Gaps, Gap{Person: pkey, Source: info.Source, From: f.End, To: m.clock(), Reason: reason})
			break
		}
	}
	m.man.Files = append(m.man.Files, file)
	tr := &trackRec{m: m, index: len(m.man.Files) - 1, out: w, track: t}
	layer := 0
	switch format {
	case "ogg":
		tr.w = newOggOpus(tr, uint32(len(m.man.Files)))
	case "ivf":
		layer = t.TopLayer()
		tr.w = newIVFVP8(tr, func() { t.RequestKeyframe(layer) })
	case "h264":
		layer = t.TopLayer()
		tr.w = newAnnexB(tr, func() { t.RequestKeyframe(layer) })
	}
	m.tracks[t.ID()] = tr
	if t.Muted() {
		m.muted[t.ID()] = m.clock()
	}
	m.mu.Unlock()
	// 10 s of audio, about 3 s of a 1.5 Mb/s video layer.
	tap := t.AddTap(tr, layer, 500)
	tr.mu.Lock()
	tr.tap = tap
	tr.mu.Unlock()
	if info.Kind == "video" {
		t.RequestKeyframe(layer)
	}
}

// Detach implements room.LiveRecording.
func (m *Meeting) Detach(trackID string) {
	m.mu.Lock()
	tr := m.tracks[trackID]
	m.mu.Unlock()
	if tr != nil {
		tr.stop()
	}
}

// Muted implements room.LiveRecording.
func (m *Meeting) Muted(trackID string, muted bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	tr := m.tracks[trackID]
	if tr == nil {
		return
	}
	now := m.clock()
	if muted {
		if _, ok := m.muted[trackID]; !ok {
			m.muted[trackID] = now
		}
		return
	}
	if from, ok := m.muted[trackID]; ok {
		delete(m.muted, trackID)
		f := m.man.Files[tr.index]
		m.man.Gaps = append(m.man.Gaps, Gap{Person: f.Person, Source: f.Source, File: f.Name, From: from, To: now, Reason: "mute"})
	}
}

// SharedMic implements room.LiveRecording: the file is marked, for the
// whole recording (part of it was a shared microphone).
func (m *Meeting) SharedMic(trackID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if tr := m.tracks[trackID]; tr != nil {
		m.man.Files[tr.index].SharedMic = true
	}
}

// End implements room.LiveRecording: every track's file is closed, the
// manifest completed.
func (m *Meeting) End(by room.Speaker) {
	m.mu.Lock()
	if m.ended {
		m.mu.Unlock()
		return
	}
	m.ended = true
	tracks := make([]*trackRec, 0, len(m.tracks))
	for _, tr := range m.tracks {
		tracks = append(tracks, tr)
	}
	m.mu.Unlock()
	for _, tr := range tracks {
		tr.stop()
	}
	close(m.stop)
	<-m.done
	m.mu.Lock()
	now := m.clock()
	s := &m.man.Sessions[len(m.man.Sessions)-1]
	s.End, s.EndedBy, s.EndedByName = &now, by.ID, by.Name
	m.man.Complete = true
	err := m.saveLocked()
	id := m.man.MeetingID
	m.mu.Unlock()
	if err != nil {
		m.rc.log.Error("recording manifest not written", "meeting", id, "err", err)
	}
	m.rc.mu.Lock()
	if m.rc.active[id] == m {
		delete(m.rc.active, id)
	}
	m.rc.mu.Unlock()
	m.rc.log.Info("recording stopped", "meeting", id)
	if m.rc.opts.Finished != nil {
		m.rc.opts.Finished(id)
	}
}

// syncLoop makes the open files durable and rewrites the manifest every
// SyncEvery, until End.
func (m *Meeting) syncLoop() {
	defer close(m.done)
	tick := time.NewTicker(m.rc.opts.SyncEvery)
	defer tick.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-tick.C:
		}
		m.mu.Lock()
		tracks := make([]*trackRec, 0, len(m.tracks))
		for _, tr := range m.tracks {
			tracks = append(tracks, tr)
		}
		m.mu.Unlock()
		for _, tr := range tracks {
			tr.sync()
		}
		if err := m.save(); err != nil {
			m.rc.log.Error("recording manifest not written", "meeting", m.man.MeetingID, "err", err)
		}
	}
}

func (m *Meeting) save() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.saveLocked()
}

func (m *Meeting) saveLocked() error {
	b, err := m.man.encode()
	if err != nil {
		return err
	}
	return m.rc.opts.Objects.Put(ManifestKey(m.man.MeetingID), b)
}
