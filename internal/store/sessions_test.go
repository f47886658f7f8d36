package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/auth"
)

func TestSessionsRoundTripAndExpiry(t *testing.T) {
	eachStore(t, func(t *testing.T, reopen func() *DB) {
		ctx := context.Background()
		s := reopen()
		now := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
		live := auth.Session{IDHash: auth.HashSessionID("a"), User: auth.User{Subject: "oidc:1", Name: "Ada Lovelace", Email: "ada@example.org"},
			IDToken: "eyJ.x.y", Created: now, Expires: now.Add(12 * time.Hour)}
		old := auth.Session{IDHash: auth.HashSessionID("b"), User: auth.User{Subject: "oidc:2", Name: "Bob"},
			Created: now.Add(-13 * time.Hour), Expires: now.Add(-time.Hour)}
		for _, ss := range []auth.Session{live, old} {
			if err := s.PutSession(ctx, ss); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.PutSession(ctx, live); err == nil {
			t.Fatal("a second session with the same id hash was accepted")
		}
		if err := s.PutSession(ctx, auth.Session{IDHash: "x"}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("session without subject: %v", err)
		}
		// Kept across a reopen, times to the millisecond.
		s.Close()
		s = reopen()
		defer s.Close()
		got, err := s.Session(ctx, live.IDHash)
		if err != nil {
			t.Fatal(err)
		}
		if got.User != live.User || got.IDToken != live.IDToken || !got.Created.Equal(live.Created) || !got.Expires.Equal(live.Expires) {
			t.Fatalf("read back %+v, stored %+v", got, live)
		}
		n, err := s.DeleteExpiredSessions(ctx, now)
		if err != nil || n != 1 {
			t.Fatalf("purge: %d rows, %v (want the one expired)", n, err)
		}
		if _, err := s.Session(ctx, old.IDHash); !errors.Is(err, auth.ErrNoSession) || !errors.Is(err, ErrNotFound) {
			t.Fatalf("purged session: %v", err)
		}
		if _, err := s.Session(ctx, live.IDHash); err != nil {
			t.Fatalf("live session purged: %v", err)
		}
		if err := s.DeleteSession(ctx, live.IDHash); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Session(ctx, live.IDHash); !errors.Is(err, auth.ErrNoSession) {
			t.Fatalf("deleted session: %v", err)
		}
		if err := s.DeleteSession(ctx, live.IDHash); err != nil {
			t.Fatalf("deleting twice: %v", err)
		}
		// The id itself is nowhere in the file: only its hash.
		var rows int
		s.db.QueryRow(`SELECT count(*) FROM sessions WHERE id_hash IN ('a', 'b')`).Scan(&rows)
		if rows != 0 {
			t.Fatal("raw session ids stored")
		}
	})
}

// TestSessionsMigrateExistingDatabase: a database made by the previous
// schema (meetings only) gains the sessions table and keeps its rows.
func TestSessionsMigrateExistingDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(migrations[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`PRAGMA user_version = 1; INSERT INTO meetings(id, title) VALUES('m1', 'Before')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s := open(t, dir)
	defer s.Close()
	if m, err := s.Meeting(ctx, "m1"); err != nil || m.Title != "Before" {
		t.Fatalf("old meeting: %+v %v", m, err)
	}
	ss := auth.Session{IDHash: "h", User: auth.User{Subject: "oidc:1"}, Created: time.Now(), Expires: time.Now().Add(time.Hour)}
	if err := s.PutSession(ctx, ss); err != nil {
		t.Fatal(err)
	}
	var v int
	s.db.QueryRow("PRAGMA user_version").Scan(&v)
	if v != len(migrations) {
		t.Fatalf("user_version %d, want %d", v, len(migrations))
	}
}
