package record

import (
	"sync"
	"time"

	"github.com/pion/rtp"

	"github.com/parleyhq/parley/internal/objects"
	"github.com/parleyhq/parley/internal/sfu"
)

// trackRec records one track: the tap's consumer, writing on the tap's
// goroutine; sync may come from the meeting's sync loop meanwhile.
type trackRec struct {
	m     *Meeting
	index int // in m.man.Files
	track *sfu.Track
	tap   *sfu.Tap

	mu      sync.Mutex
	out     objects.Writer
	w       mediaWriter
	bytes   int64
	packets uint64
	closed  bool
	err     error
}

var _ sfu.Consumer = (*trackRec)(nil)

// Write counts what the media writer writes to the file.
func (tr *trackRec) Write(b []byte) (int, error) {
	n, err := tr.out.Write(b)
	tr.bytes += int64(n)
	tr.m.rc.bytes.Add(float64(n))
	return n, err
}

// ConsumeRTP implements sfu.Consumer.
func (tr *trackRec) ConsumeRTP(p *rtp.Packet, arrival time.Time) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.closed || tr.err != nil {
		return
	}
	tr.packets++
	late, before := tr.w.late(), tr.w.duration()
	if tr.err = tr.w.write(p); tr.err != nil {
		tr.m.rc.log.Error("recording write failed: track no longer recorded", "track", tr.track.ID(), "err", tr.err)
		return
	}
	if d := tr.w.late() - late; d > 0 {
		tr.m.rc.dropped.Add(float64(d))
	}
	if tr.w.duration() == before && tr.w.duration() > 0 {
		return // nothing new written (late, or a frame's first packets)
	}
	tr.m.mu.Lock()
	f := &tr.m.man.Files[tr.index]
	// The file's time 0 on the meeting clock: when its media arrived
	// minus where it is in the file. Packets are delayed by the network
	// by at least some floor, and by jitter on top, so the earliest
	// estimate over the first packets (about two seconds) is the best.
	if start := arrival.Sub(tr.m.started).Seconds() - tr.w.position(); f.Start < 0 || (tr.packets <= 100 && start < f.Start) {
		f.Start = ms(start)
	}
	f.End = ms(f.Start + tr.w.duration())
	tr.m.mu.Unlock()
}

// stop detaches the track's tap and waits until its file is closed.
func (tr *trackRec) stop() {
	tr.mu.Lock()
	tap := tr.tap
	tr.mu.Unlock()
	if tap != nil {
		tap.Close() // the consumer's Close finishes the file
	} else {
		tr.Close() // the tap is being attached: its packets will be ignored
	}
}

// sync makes what was written durable.
func (tr *trackRec) sync() {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.closed {
		return
	}
	if err := tr.w.flush(); err == nil {
		tr.out.Sync()
	}
	tr.updateLocked()
}

// updateLocked copies the file's counters into the manifest.
func (tr *trackRec) updateLocked() {
	tr.m.mu.Lock()
	f := &tr.m.man.Files[tr.index]
	f.Bytes, f.Packets = tr.bytes, tr.packets
	f.Dropped = tr.w.late()
	if tr.tap != nil {
		f.Dropped += tr.tap.Dropped()
	}
	tr.m.mu.Unlock()
}

// Close implements sfu.Consumer: the track ended or was detached; the
// file is finished and listed as closed.
func (tr *trackRec) Close() {
	tr.mu.Lock()
	if tr.closed {
		tr.mu.Unlock()
		return
	}
	tr.closed = true
	err := tr.w.close()
	if serr := tr.out.Sync(); err == nil {
		err = serr
	}
	if cerr := tr.out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		tr.m.rc.log.Error("recording file not closed cleanly", "track", tr.track.ID(), "err", err)
	}
	tr.updateLocked()
	tr.mu.Unlock()

	m := tr.m
	m.mu.Lock()
	f := &m.man.Files[tr.index]
	f.Open = false
	if f.Start < 0 {
		f.Start, f.End = m.clock(), m.clock() // nothing arrived
	}
	if from, ok := m.muted[tr.track.ID()]; ok {
		delete(m.muted, tr.track.ID())
		m.man.Gaps = append(m.man.Gaps, Gap{Person: f.Person, Source: f.Source, File: f.Name, From: from, To: max(from, f.End), Reason: "mute"})
	}
	delete(m.tracks, tr.track.ID())
	err = m.saveLocked()
	m.mu.Unlock()
	if err != nil {
		m.rc.log.Error("recording manifest not written", "meeting", m.man.MeetingID, "err", err)
	}
}
