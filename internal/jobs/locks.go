package jobs

import "sync"

// MeetingLocks serialises, on one node, the work that writes a meeting's
// files with the deletion of that meeting: a recording being finalized
// while its meeting is deleted would otherwise write its manifest back
// after the delete removed it (where the object store checks a
// conditional write and applies it in two steps, as the test server's
// file-system backend does). The zero value is ready to use; a nil
// *MeetingLocks locks nothing.
type MeetingLocks struct {
	mu sync.Mutex
	m  map[string]*meetingLock
}

type meetingLock struct {
	sync.Mutex
	users int
}

// Lock takes meeting id's lock and returns its release.
func (l *MeetingLocks) Lock(id string) (unlock func()) {
	if l == nil {
		return func() {}
	}
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*meetingLock{}
	}
	e := l.m[id]
	if e == nil {
		e = &meetingLock{}
		l.m[id] = e
	}
	e.users++
	l.mu.Unlock()
	e.Lock()
	return func() {
		e.Unlock()
		l.mu.Lock()
		if e.users--; e.users == 0 {
			delete(l.m, id)
		}
		l.mu.Unlock()
	}
}
