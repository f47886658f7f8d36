package store

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
)

// conn is the database handle. Queries are written once, with SQLite's ?
// placeholders; on PostgreSQL they are rewritten to $1, $2, … (once per
// query text). The few statements whose SQL differs ask conn.pg.
type conn struct {
	*sql.DB
	pg     bool
	rebind sync.Map // query → PostgreSQL form
}

// pick returns the SQL written for the database in use.
func (c *conn) pick(sqlite, pg string) string {
	if c.pg {
		return pg
	}
	return sqlite
}

// jsonEach is a table of the strings in a JSON array given as a
// parameter, one column named value.
func (c *conn) jsonEach() string {
	return c.pick("json_each(?)", "json_array_elements_text(CAST(? AS json))")
}

// a returns args for the database: booleans are 0/1 integers on both
// (SQLite's driver converts them; pgx refuses a bool for a BIGINT).
func (c *conn) a(args []any) []any {
	if !c.pg {
		return args
	}
	for i, v := range args {
		if b, ok := v.(bool); ok {
			if args[i] = int64(0); b {
				args[i] = int64(1)
			}
		}
	}
	return args
}

// q returns query in the database's placeholder style.
func (c *conn) q(query string) string {
	if !c.pg {
		return query
	}
	if v, ok := c.rebind.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n, quoted := 0, false
	for _, r := range query {
		switch {
		case r == '\'':
			quoted = !quoted
		case r == '?' && !quoted:
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	c.rebind.Store(query, b.String())
	return b.String()
}

func (c *conn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return c.DB.ExecContext(ctx, c.q(query), c.a(args)...)
}

func (c *conn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return c.DB.QueryContext(ctx, c.q(query), c.a(args)...)
}

func (c *conn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return c.DB.QueryRowContext(ctx, c.q(query), c.a(args)...)
}

// writeLock is the PostgreSQL advisory lock every transaction takes first,
// so that transactions run one at a time as they do on SQLite (BEGIN
// IMMEDIATE): the store's read-then-write transactions were written for
// that, and a meeting's writes are few.
const writeLock = 0x7061726c6579 // "parley"

// BeginTx starts a transaction that holds the database's write lock.
func (c *conn) BeginTx(ctx context.Context, opts *sql.TxOptions) (*dbTx, error) {
	tx, err := c.DB.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	if c.pg {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", writeLock); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	return &dbTx{Tx: tx, c: c}, nil
}

// dbTx is a transaction with the database's placeholder style.
type dbTx struct {
	*sql.Tx
	c *conn
}

func (t *dbTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.Tx.ExecContext(ctx, t.c.q(query), t.c.a(args)...)
}

func (t *dbTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.Tx.QueryContext(ctx, t.c.q(query), t.c.a(args)...)
}

func (t *dbTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.Tx.QueryRowContext(ctx, t.c.q(query), t.c.a(args)...)
}
