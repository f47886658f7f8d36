package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/parleyhq/parley/internal/access"
	"github.com/parleyhq/parley/internal/room"
	"github.com/parleyhq/parley/internal/store"
)

// keeper is the room manager's link to the store: rooms' settings,
// meeting grants and the audit log.
type keeper struct {
	st  *store.DB
	log *slog.Logger
}

var _ room.Keeper = (*keeper)(nil)

func ctx10() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

func (k *keeper) RoomSettings(roomID string) room.Settings {
	ctx, cancel := ctx10()
	defer cancel()
	r, err := k.st.Room(ctx, roomID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			k.log.Error("room settings not read: defaults apply", "room", roomID, "err", err)
		}
		return room.DefaultSettings()
	}
	return room.Settings{Access: r.Access, Locked: r.Locked, TranscriptionBy: r.TranscriptionBy, SpeakModerated: r.SpeakModerated}
}

func (k *keeper) SaveSettings(roomID string, s room.Settings) error {
	ctx, cancel := ctx10()
	defer cancel()
	r, err := k.st.Room(ctx, roomID)
	if err != nil {
		return err
	}
	r.Access, r.Locked, r.TranscriptionBy, r.SpeakModerated = s.Access, s.Locked, s.TranscriptionBy, s.SpeakModerated
	return k.st.UpdateRoom(ctx, r)
}

func (k *keeper) SetRole(roomID, subject, role string) error {
	ctx, cancel := ctx10()
	defer cancel()
	if role != room.RoleModerator {
		role = ""
	}
	return k.st.SetMember(ctx, roomID, subject, role)
}

func (k *keeper) Admitted(roomID, meetingID string, who room.Identity, name string) (string, error) {
	ctx, cancel := ctx10()
	defer cancel()
	key, hash := access.NewMeetingKey()
	err := k.st.GrantMeeting(ctx, store.Grant{MeetingID: meetingID, RoomID: roomID, Subject: who.Subject, KeyHash: hash, Role: who.Role})
	if err != nil {
		return "", err
	}
	return key, nil
}

func (k *keeper) Audit(roomID string, who room.Identity, name, action, detail string) {
	ctx, cancel := ctx10()
	defer cancel()
	err := k.st.Audit(ctx, store.AuditEntry{RoomID: roomID, Actor: who.Subject, Name: name, Addr: who.Addr, Action: action, Detail: detail})
	if err != nil {
		k.log.Error("audit row not stored", "room", roomID, "action", action, "err", err)
	}
}
