package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parleyhq/parley/internal/auth"
)

var _ auth.Sessions = (*DB)(nil)

// Sign-in sessions (table sessions, migration 2). Times are Unix
// milliseconds, so that expiry is one indexed integer comparison.

// PutSession implements auth.Sessions.
func (s *DB) PutSession(ctx context.Context, ss auth.Session) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if ss.IDHash == "" || ss.User.Subject == "" {
		return fmt.Errorf("%w: session without id hash or subject", ErrInvalid)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions(id_hash, subject, name, email, id_token, created_ms, expires_ms)
		VALUES(?, ?, ?, ?, ?, ?, ?)`, ss.IDHash, ss.User.Subject, ss.User.Name, ss.User.Email, ss.IDToken,
		ss.Created.UnixMilli(), ss.Expires.UnixMilli())
	if err != nil {
		return fmt.Errorf("store: put session: %w", err)
	}
	return nil
}

// Session implements auth.Sessions.
func (s *DB) Session(ctx context.Context, idHash string) (auth.Session, error) {
	if s.closed.Load() {
		return auth.Session{}, ErrClosed
	}
	ss := auth.Session{IDHash: idHash}
	var created, expires int64
	err := s.db.QueryRowContext(ctx, `SELECT subject, name, email, id_token, created_ms, expires_ms FROM sessions WHERE id_hash = ?`, idHash).
		Scan(&ss.User.Subject, &ss.User.Name, &ss.User.Email, &ss.IDToken, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return ss, fmt.Errorf("%w: %w", ErrNotFound, auth.ErrNoSession)
	}
	if err != nil {
		return ss, fmt.Errorf("store: session: %w", err)
	}
	ss.Created, ss.Expires = time.UnixMilli(created), time.UnixMilli(expires)
	return ss, nil
}

// DeleteSession implements auth.Sessions.
func (s *DB) DeleteSession(ctx context.Context, idHash string) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash); err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions implements auth.Sessions.
func (s *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE expires_ms <= ?`, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("store: delete expired sessions: %w", err)
	}
	return res.RowsAffected()
}
