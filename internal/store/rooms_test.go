package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRoomsGrantsAndAudit(t *testing.T) {
	eachStore(t, func(t *testing.T, reopen func() *DB) {
		ctx := context.Background()
		s := reopen()

		r := Room{ID: "abcd-efghi-jklm", Owner: "oidc:ann", Access: "trusted", TranscriptionBy: "moderators", Created: time.Now()}
		if err := s.CreateRoom(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateRoom(ctx, Room{ID: r.ID, Owner: "oidc:mallory", Created: time.Now()}); !errors.Is(err, ErrExists) {
			t.Fatalf("second create of one id: %v", err)
		}
		r.Locked, r.Access = true, "restricted"
		if err := s.UpdateRoom(ctx, r); err != nil {
			t.Fatal(err)
		}
		got, err := s.Room(ctx, r.ID)
		if err != nil || got.Owner != "oidc:ann" || !got.Locked || got.Access != "restricted" || got.TranscriptionBy != "moderators" {
			t.Fatalf("room: %+v, %v", got, err)
		}
		if _, err := s.Room(ctx, "nope-nope-nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing room: %v", err)
		}
		if owned, err := s.RoomsOwnedBy(ctx, "oidc:ann"); err != nil || len(owned) != 1 {
			t.Fatalf("owned: %v, %v", owned, err)
		}

		s.SetMember(ctx, r.ID, "oidc:bob", "moderator")
		s.SetMember(ctx, r.ID, "oidc:cat", "member")
		s.SetMember(ctx, r.ID, "oidc:cat", "")
		if m, err := s.Members(ctx, r.ID); err != nil || len(m) != 1 || m["oidc:bob"] != "moderator" {
			t.Fatalf("members: %v, %v", m, err)
		}
		// The owner's list replaces only its own entries.
		if err := s.SetListed(ctx, r.ID, "email:", map[string]string{"email:a@x.org": "member", "email:b@x.org": "moderator"}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetListed(ctx, r.ID, "email:", map[string]string{"email:b@x.org": "member"}); err != nil {
			t.Fatal(err)
		}
		if m, err := s.Members(ctx, r.ID); err != nil || len(m) != 2 || m["oidc:bob"] != "moderator" || m["email:b@x.org"] != "member" {
			t.Fatalf("members after the owner's list: %v, %v", m, err)
		}
		if err := s.SetListed(ctx, r.ID, "email:", map[string]string{"oidc:eve": "member"}); err == nil {
			t.Fatal("a subject passed as a listed address")
		}
		if m, _ := s.Members(ctx, r.ID); len(m) != 2 {
			t.Fatalf("a refused list changed the members: %v", m)
		}

		// Who may read meeting MT_1: the key's holder, the participant by
		// subject, the room's owner; nobody else, and no empty credential.
		if err := s.GrantMeeting(ctx, Grant{MeetingID: "MT_1", RoomID: r.ID, Subject: "guest:g1", KeyHash: "h1", Role: "participant"}); err != nil {
			t.Fatal(err)
		}
		s.GrantMeeting(ctx, Grant{MeetingID: "MT_1", RoomID: r.ID, Subject: "oidc:bob", KeyHash: "h2", Role: "moderator"})
		for _, c := range []struct {
			key, sub string
			want     bool
		}{
			{"h1", "", true}, {"", "oidc:bob", true}, {"", "oidc:ann", true},
			{"h3", "", false}, {"", "oidc:eve", false}, {"", "", false}, {"h2", "oidc:eve", true},
		} {
			if ok, err := s.MayRead(ctx, "MT_1", c.key, c.sub); err != nil || ok != c.want {
				t.Errorf("MayRead(key %q, subject %q) = %v, %v; want %v", c.key, c.sub, ok, err, c.want)
			}
		}
		if ok, _ := s.MayRead(ctx, "MT_2", "h1", ""); ok {
			t.Error("a key of one meeting opens another")
		}

		for _, a := range []string{"room_created", "admitted", "transcription_on"} {
			if err := s.Audit(ctx, AuditEntry{RoomID: r.ID, Actor: "oidc:ann", Name: "Ann", Addr: "127.0.0.1", Action: a}); err != nil {
				t.Fatal(err)
			}
		}
		s.Audit(ctx, AuditEntry{RoomID: "other-room-id", Action: "room_created"})
		if log, _ := s.AuditLog(ctx, r.ID, 2); len(log) != 2 || log[0].Action != "transcription_on" {
			t.Fatalf("a limited audit log keeps the latest rows: %+v", log)
		}
		log, err := s.AuditLog(ctx, r.ID, 100)
		if err != nil || len(log) != 3 || log[0].Action != "transcription_on" || log[2].Action != "room_created" || log[1].Addr != "127.0.0.1" {
			t.Fatalf("audit log: %+v, %v", log, err)
		}
	})
}
