package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/testkit/pgtest"
	"github.com/parleyhq/parley/internal/transcript"
)

// TestSchemasAgree: the PostgreSQL schema has SQLite's tables and
// columns, no more and no fewer (the two are written apart).
func TestSchemasAgree(t *testing.T) {
	ctx := context.Background()
	lite := open(t, t.TempDir())
	defer lite.Close()
	pg, err := OpenPostgres(ctx, pgtest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	columns := func(db *DB, q string) map[string][]string {
		rows, err := db.db.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string][]string{}
		for rows.Next() {
			var table, col string
			if err := rows.Scan(&table, &col); err != nil {
				t.Fatal(err)
			}
			out[table] = append(out[table], col)
		}
		for _, cs := range out {
			slices.Sort(cs)
		}
		return out
	}
	l := columns(lite, `SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE 'segments_fts%'`)
	p := columns(pg, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = 'public' AND table_name != 'schema_version'`)
	if len(l) < 10 {
		t.Fatalf("SQLite tables: %v", slices.Sorted(maps.Keys(l)))
	}
	for _, table := range slices.Sorted(maps.Keys(l)) {
		if a, b := strings.Join(l[table], " "), strings.Join(p[table], " "); a != b {
			t.Errorf("table %s: SQLite has %q, PostgreSQL %q", table, a, b)
		}
	}
	for table := range p {
		if l[table] == nil {
			t.Errorf("table %s only on PostgreSQL", table)
		}
	}
}

// TestJobsByNode: a job tied to a node (its files are on that node's
// disk) is claimed only by a runner that takes that node's jobs; one
// tied to none by any runner; a worker (nodes [""]) never gets a node's.
func TestJobsByNode(t *testing.T) {
	eachStore(t, func(t *testing.T, reopen func() *DB) {
		ctx := context.Background()
		s := reopen()
		past := time.Now().Add(-time.Second)
		for _, j := range []NewJob{{Kind: "k", Key: "on-a", Node: "node-a"}, {Kind: "k", Key: "on-b", Node: "node-b"}, {Kind: "k", Key: "any"}} {
			j.RunAfter = past
			if _, err := s.Enqueue(ctx, j); err != nil {
				t.Fatal(err)
			}
		}
		claim := func(owner string, nodes ...string) []string {
			var keys []string
			for {
				j, ok, err := s.ClaimJob(ctx, Claim{Owner: owner, Kinds: []string{"k"}, Nodes: nodes}, time.Now(), time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					return keys
				}
				keys = append(keys, j.Key+"@"+j.Node)
			}
		}
		if got := claim("worker", ""); !slices.Equal(got, []string{"any@"}) {
			t.Errorf("worker claimed %v, want the untied job only", got)
		}
		if got := claim("a-local", "node-a"); !slices.Equal(got, []string{"on-a@node-a"}) {
			t.Errorf("node-a (local jobs only) claimed %v", got)
		}
		if got := claim("b", "", "node-b"); !slices.Equal(got, []string{"on-b@node-b"}) {
			t.Errorf("node-b claimed %v", got)
		}
		if _, _, err := s.ClaimJob(ctx, Claim{Owner: "x", Kinds: []string{"k"}, Nodes: []string{}}, time.Now(), time.Minute); !errors.Is(err, ErrInvalid) {
			t.Errorf("a claim for no node: %v", err)
		}
	})
}

// TestJobsClaimedOnce: workers claiming at once from one queue (two
// connections' worth on PostgreSQL, where claims run side by side) get
// every job, each once.
func TestJobsClaimedOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, reopen func() *DB) {
		ctx := context.Background()
		s := reopen()
		const jobs = 60
		for i := range jobs {
			if _, err := s.Enqueue(ctx, NewJob{Kind: "k", Key: fmt.Sprint("job-", i), Payload: i, RunAfter: time.Now().Add(-time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		seen := map[int64]string{}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				owner := fmt.Sprint("worker-", w)
				for {
					j, ok, err := s.ClaimJob(ctx, Claim{Owner: owner, Kinds: []string{"k"}}, time.Now(), time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					if !ok {
						return
					}
					mu.Lock()
					if prev, dup := seen[j.ID]; dup {
						t.Errorf("job %d claimed by %s and %s", j.ID, prev, owner)
					}
					seen[j.ID] = owner
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != jobs {
			t.Errorf("%d jobs claimed of %d", len(seen), jobs)
		}
	})
}

// TestPostgresRefusesCLocale: a database whose character classification
// is C would break search (every non-ASCII character a letter); opening
// it says why instead.
func TestPostgresRefusesCLocale(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Database(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE clocale LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"); err != nil {
		t.Fatal(err)
	}
	_, err = OpenPostgres(ctx, strings.Replace(dsn, dsn[strings.LastIndex(dsn, "/")+1:strings.Index(dsn, "?")], "clocale", 1))
	if err == nil || !strings.Contains(err.Error(), "LC_CTYPE is C") {
		t.Fatalf("opened a C-locale database: %v", err)
	}
}

// TestSecretIsShared: the first node to ask makes the secret; every
// handle, and every later call, gets that one.
func TestSecretIsShared(t *testing.T) {
	eachStore(t, func(t *testing.T, reopen func() *DB) {
		ctx := context.Background()
		a, b := reopen(), reopen()
		var wg sync.WaitGroup
		got := make([][]byte, 8)
		for i := range got {
			wg.Go(func() {
				s := a
				if i%2 == 1 {
					s = b
				}
				v, err := s.Secret(ctx, "token-key", 32)
				if err != nil {
					t.Error(err)
				}
				got[i] = v
			})
		}
		wg.Wait()
		for _, v := range got {
			if len(v) != 32 || string(v) != string(got[0]) {
				t.Fatalf("secrets differ: %x", got)
			}
		}
	})
}

// TestPostgresRestartLosesNothing: PostgreSQL restarted under a running
// store (connections cut): what was committed is there after, the job
// claimed before finishes after, and writing goes on through the same
// handle.
func TestPostgresRestartLosesNothing(t *testing.T) {
	ctx := context.Background()
	srv, err := pgtest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	dsn, err := srv.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.CreateMeeting(ctx, transcript.Meeting{ID: "MT_pg", Started: time.Now()})
	for i := range 3 {
		if _, err := s.AppendSegment(ctx, "MT_pg", seg("ada", float64(i), fmt.Sprint("before ", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Enqueue(ctx, NewJob{Kind: "k", Key: "job-1", Payload: 1, RunAfter: time.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	job, ok, err := s.ClaimJob(ctx, Claim{Owner: "worker", Kinds: []string{"k"}}, time.Now(), time.Minute)
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendSegment(ctx, "MT_pg", seg("ada", 3, "after")); err != nil {
		t.Fatalf("the first write after the restart: %v", err)
	}
	if err := s.FinishJob(ctx, job.ID, "worker", nil); err != nil {
		t.Fatalf("finishing the job claimed before the restart: %v", err)
	}
	tr, err := s.Transcript(ctx, "MT_pg")
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, g := range tr.Segments {
		texts = append(texts, g.Text)
	}
	if fmt.Sprint(texts) != "[before 0 before 1 before 2 after]" {
		t.Fatalf("after the restart: %v", texts)
	}
}
