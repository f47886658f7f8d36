package room

// Shutdown stops accepting joins, tells every participant the server is
// going away, and closes their connections.
func (m *Manager) Shutdown() { m.Handover(nil) }

// Handover is Shutdown on a node that drains: the participants of each
// room moved(roomID) reports handed over to another node are told
// ReasonMoved (their clients join again, through that node, the same
// meeting), the others ReasonShutdown. moved is called before any
// participant is removed; nil moves nothing.
func (m *Manager) Handover(moved func(roomID string) bool) {
	m.mu.Lock()
	m.closing = true
	var ids []string
	for id := range m.rooms {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	reason := map[string]string{}
	for _, id := range ids {
		reason[id] = ReasonShutdown
		if moved != nil && moved(id) {
			reason[id] = ReasonMoved
		}
	}
	m.mu.Lock()
	var all []*Participant
	for _, r := range m.rooms {
		all = append(all, r.everyone()...)
	}
	m.mu.Unlock()
	for _, p := range all {
		why := reason[p.room.id]
		if why == "" {
			why = ReasonShutdown
		}
		p.send(Bye{Reason: why})
		p.room.remove(p, why)
		p.closeConn(why)
	}
	m.wg.Wait()
}
