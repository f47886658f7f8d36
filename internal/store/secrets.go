package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// secretsSchema keeps secrets that every node of a deployment must share
// (the key that signs join tokens, when nodes share the store).
const secretsSchema = `
CREATE TABLE secrets (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL -- hex
);
`

// Secret returns the secret called name, making it (size random bytes)
// the first time: nodes asking at once all get the first one written.
func (s *DB) Secret(ctx context.Context, name string, size int) ([]byte, error) {
	if err := s.check(name); err != nil {
		return nil, err
	}
	b := make([]byte, size)
	rand.Read(b)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO secrets(name, value) VALUES(?, ?) ON CONFLICT(name) DO NOTHING`, name, hex.EncodeToString(b)); err != nil {
		return nil, fmt.Errorf("store: secret %s: %w", name, err)
	}
	var v string
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&v); err != nil {
		return nil, fmt.Errorf("store: secret %s: %w", name, err)
	}
	return hex.DecodeString(v)
}
