package room

import (
	"errors"
	"testing"
)

// FuzzModerate sends arbitrary moderator requests from each kind of
// person in a room: the server never panics, a participant or a guest
// never gets an action through, a knocker can do nothing, and the
// owner's role never changes.
func FuzzModerate(f *testing.F) {
	for _, k := range []string{ActMute, ActMuteAll, ActStopCamera, ActStopScreen, ActAllowSpeak, ActRemove, ActAdmit, ActDeny,
		ActLock, ActEnd, ActPromote, ActDemote, ActTranscriptBy, ActSpeakModerated, "", "fly"} {
		f.Add(byte(0), k, byte(1), true, ByModerators)
		f.Add(byte(2), k, byte(0), false, "")
	}
	m := newManager(f, nil, 0)
	f.Fuzz(func(t *testing.T, actor byte, kind string, target byte, value bool, policy string) {
		people := []*Participant{}
		for _, j := range []struct {
			name  string
			id    Identity
			lobby bool
		}{
			{"Olga", Identity{Subject: "oidc:olga", Role: RoleOwner}, false},
			{"Mo", Identity{Subject: "oidc:mo", Role: RoleModerator}, false},
			{"Pat", Identity{Subject: "oidc:pat", Role: RoleParticipant}, false},
			{"Gus", Identity{Subject: "guest:gus", Role: RoleGuest, Guest: true}, false},
			{"Kim", Identity{Subject: "guest:kim", Role: RoleGuest, Guest: true}, true},
		} {
			p, err := m.Join(roomID, j.name, &conn{}, JoinOptions{Identity: j.id, Lobby: j.lobby})
			if err != nil {
				t.Fatalf("%s joins: %v", j.name, err)
			}
			people = append(people, p)
		}
		defer func() {
			for _, p := range people {
				p.Leave()
			}
		}()
		by := people[int(actor)%len(people)]
		a := Action{Kind: kind, Value: value, Policy: policy}
		if int(target) < len(people) {
			a.Target = people[target].ID()
		} else if target%2 == 0 {
			a.Target = string([]byte{target, actor})
		}
		role, waiting := by.Role(), by.Waiting()
		err := by.Moderate(a)
		switch {
		case waiting && !errors.Is(err, ErrNotAdmitted):
			t.Fatalf("a knocker's %q: %v", kind, err)
		case !waiting && (role == RoleParticipant || role == RoleGuest) && !errors.Is(err, ErrNotAllowed):
			t.Fatalf("a %s's %q went through: %v", role, kind, err)
		}
		if people[0].Role() != RoleOwner {
			t.Fatalf("the owner's role became %q after %s's %q", people[0].Role(), role, kind)
		}
	})
}
