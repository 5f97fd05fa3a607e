package actor_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

type dbState struct {
	N int `cbor:"n"`
}

type dbCtx = actor.Context[dbState, struct{}]

var dbMigrations = []string{
	"CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, qty INTEGER NOT NULL CHECK (qty >= 0))",
	"CREATE INDEX items_qty ON items (qty)",
}

func countItems(c *dbCtx) (int, error) {
	var n int
	err := c.DB().QueryRow("SELECT count(*) FROM items").Scan(&n)
	return n, err
}

// dbKind builds an actor kind on c.DB with the given migrations.
func dbKind(migs []string, opts actor.Options) *actor.Definition[dbState, struct{}] {
	return actor.New("dbtest", actor.Config[dbState, struct{}]{Migrations: migs, Options: opts}).
		Action("add", func(c *dbCtx, name string, qty int) (int64, error) {
			res, err := c.DB().Exec("INSERT INTO items (name, qty) VALUES (?, ?)", name, qty)
			if err != nil {
				return 0, err
			}
			return res.LastInsertId()
		}).
		Action("count", countItems).
		Action("names", func(c *dbCtx) ([]string, error) {
			rows, err := c.DB().Query("SELECT name FROM items ORDER BY id")
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			out := []string{}
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					return nil, err
				}
				out = append(out, s)
			}
			return out, rows.Err()
		}).
		// all writes state, KV and SQL, then fails as told.
		Action("all", func(c *dbCtx, name, how string) error {
			c.State().N++
			if err := c.KV().Put([]byte(name), []byte("v")); err != nil {
				return err
			}
			if _, err := c.DB().Exec("INSERT INTO items (name, qty) VALUES (?, 1)", name); err != nil {
				return err
			}
			switch how {
			case "error":
				return errors.New("boom")
			case "panic":
				panic("boom")
			}
			return nil
		}).
		// awaitThenFail inserts a, ends the step at an await point, inserts
		// b and fails: a stays, b is rolled back.
		Action("awaitThenFail", func(c *dbCtx, a, b string) error {
			if _, err := c.DB().Exec("INSERT INTO items (name, qty) VALUES (?, 1)", a); err != nil {
				return err
			}
			if err := c.SaveState(false); err != nil {
				return err
			}
			if _, err := c.DB().Exec("INSERT INTO items (name, qty) VALUES (?, 1)", b); err != nil {
				return err
			}
			return errors.New("after the await")
		}).
		Action("exec", func(c *dbCtx, q string) error {
			_, err := c.DB().Exec(q)
			return err
		}).
		// ignoreErr runs a failing statement, ignores its error and inserts.
		Action("ignoreErr", func(c *dbCtx, bad, name string) error {
			_, _ = c.DB().Exec(bad)
			_, err := c.DB().Exec("INSERT INTO items (name, qty) VALUES (?, 1)", name)
			return err
		}).
		Action("blob", func(c *dbCtx, name string, n int) error {
			_, err := c.DB().Exec("INSERT INTO items (name, qty) VALUES (?, length(zeroblob(?)))", name, n)
			if err != nil {
				return err
			}
			_, err = c.DB().Exec("CREATE TABLE IF NOT EXISTS blobs (b BLOB)")
			if err == nil {
				_, err = c.DB().Exec("INSERT INTO blobs (b) VALUES (randomblob(?))", n)
			}
			return err
		}).
		Action("state", func(c *dbCtx) int { return c.State().N })
}

// restart activates the kind again from what env holds, as the next host
// would.
func restart(t *testing.T, typ actor.Type, env *fakeEnv, gen uint64) actor.Instance {
	t.Helper()
	env.mu.Lock()
	p := actor.ActivateParams{
		Info:    actor.Info{ID: testID, Name: typ.Name(), Key: []string{"k"}, Gen: gen},
		State:   env.saves[len(env.saves)-1],
		Created: true,
		DBBytes: env.dbBytes,
		DBPages: env.dbPages,
		DBDir:   t.TempDir(),
	}
	env.mu.Unlock()
	return startWith(t, typ, env, p)
}

func TestDBMigrationsAndRestore(t *testing.T) {
	env := &fakeEnv{}
	kind := dbKind(dbMigrations, actor.Options{})
	inst := startWith(t, kind, env, actor.ActivateParams{DBDir: t.TempDir()})
	for _, n := range []string{"a", "b", "c"} {
		call(t, inst, "add", n, 1)
	}
	deepEq(t, "names", callOut[[]string](t, inst, "names"), []string{"a", "b", "c"})
	if err := inst.Sleep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if env.dbBytes == 0 || len(env.db)+len(env.dbPages) == 0 {
		t.Fatalf("nothing stored: %d bytes, %d chunks, %d pages", env.dbBytes, len(env.db), len(env.dbPages))
	}
	// The next activation restores the database from the stored chunks
	// and runs only the migration added since.
	kind2 := dbKind(append(append([]string{}, dbMigrations...), "ALTER TABLE items ADD COLUMN note TEXT"), actor.Options{})
	inst2 := restart(t, kind2, env, 2)
	deepEq(t, "names after restore", callOut[[]string](t, inst2, "names"), []string{"a", "b", "c"})
	call(t, inst2, "exec", "UPDATE items SET note = 'x'")
	// Code that knows fewer migrations than were applied is refused.
	if err := inst2.Sleep(context.Background()); err != nil {
		t.Fatal(err)
	}
	inst3 := restart(t, kind, env, 3)
	_, err := inst3.Call(context.Background(), "count", cborArgs(t))
	wantCode(t, err, protocol.GroupDB, protocol.CodeDBMigration)
}

// TestDBFailedStepChangesNothing: a step that writes state, KV and SQL and
// then fails (error or panic) changes none of the three, in memory and in
// what is stored.
func TestDBFailedStepChangesNothing(t *testing.T) {
	for _, how := range []string{"error", "panic"} {
		t.Run(how, func(t *testing.T) {
			env := &fakeEnv{}
			kind := dbKind(dbMigrations, actor.Options{})
			inst := startWith(t, kind, env, actor.ActivateParams{DBDir: t.TempDir()})
			call(t, inst, "all", "ok", "")
			saves := env.numSaves()
			if _, err := inst.Call(context.Background(), "all", cborArgs(t, "bad", how)); err == nil {
				t.Fatal("the failing step succeeded")
			}
			eq(t, "commits after the failed step", env.numSaves(), saves)
			eq(t, "state", callOut[int](t, inst, "state"), 1)
			eq(t, "rows", callOut[int](t, inst, "count"), 1)
			if _, ok := env.kv["bad"]; ok {
				t.Error("the failed step's KV write is stored")
			}
			// The next step works and the next activation sees the same.
			call(t, inst, "all", "ok2", "")
			if err := inst.Sleep(context.Background()); err != nil {
				t.Fatal(err)
			}
			inst2 := restart(t, kind, env, 2)
			eq(t, "state after restore", callOut[int](t, inst2, "state"), 2)
			deepEq(t, "rows after restore", callOut[[]string](t, inst2, "names"), []string{"ok", "ok2"})
		})
	}
}

// TestDBAwaitPointCommits: an await point ends the step, so its SQL is
// committed even though the action fails after it.
func TestDBAwaitPointCommits(t *testing.T) {
	env := &fakeEnv{}
	kind := dbKind(dbMigrations, actor.Options{})
	inst := startWith(t, kind, env, actor.ActivateParams{DBDir: t.TempDir()})
	if _, err := inst.Call(context.Background(), "awaitThenFail", cborArgs(t, "a", "b")); err == nil {
		t.Fatal("awaitThenFail succeeded")
	}
	deepEq(t, "names", callOut[[]string](t, inst, "names"), []string{"a"})
	if err := inst.Sleep(context.Background()); err != nil {
		t.Fatal(err)
	}
	deepEq(t, "names after restore", callOut[[]string](t, restart(t, kind, env, 2), "names"), []string{"a"})
}

// TestDBBadInput: SQL errors come back as db/* errors and the actor keeps
// working.
func TestDBBadInput(t *testing.T) {
	env := &fakeEnv{}
	kind := dbKind(dbMigrations, actor.Options{MaxDBBytes: 1 << 20})
	inst := startWith(t, kind, env, actor.ActivateParams{DBDir: t.TempDir()})
	call(t, inst, "add", "a", 1)
	cases := []struct{ action, code string }{
		{"SELEC nonsense", protocol.CodeDBSQL},
		{"INSERT INTO nope VALUES (1)", protocol.CodeDBSQL},
		{"INSERT INTO items (name, qty) VALUES ('a', 1)", protocol.CodeDBConstraint},
		{"INSERT INTO items (name, qty) VALUES ('z', -1)", protocol.CodeDBConstraint},
		{"INSERT INTO items (name) VALUES ('z')", protocol.CodeDBConstraint},
		{"BEGIN", protocol.CodeDBNotAllowed},
		{"COMMIT", protocol.CodeDBNotAllowed},
		{"PRAGMA journal_mode=DELETE", protocol.CodeDBNotAllowed},
		{"ATTACH DATABASE '/tmp/x.db' AS x", protocol.CodeDBNotAllowed},
	}
	for _, tc := range cases {
		_, err := inst.Call(context.Background(), "exec", cborArgs(t, tc.action))
		e := wantCode(t, err, protocol.GroupDB, tc.code)
		if e.Message == "" {
			t.Errorf("%s: empty message", tc.action)
		}
	}
	// A statement's error leaves the rest of the step working.
	call(t, inst, "ignoreErr", "INSERT INTO items (name, qty) VALUES ('a', 1)", "b")
	// Past MaxDBBytes: db/full, and nothing of the step stays.
	_, err := inst.Call(context.Background(), "blob", cborArgs(t, "big", 2<<20))
	wantCode(t, err, protocol.GroupDB, protocol.CodeDBFull)
	deepEq(t, "names", callOut[[]string](t, inst, "names"), []string{"a", "b"})
}

// TestDBStepTooLarge: a step that changes more than MaxDBChunksPerStep
// chunks fails with db/too_large; the database is as before and keeps
// working.
func TestDBStepTooLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 40 MiB")
	}
	env := &fakeEnv{}
	kind := dbKind(dbMigrations, actor.Options{})
	inst := startWith(t, kind, env, actor.ActivateParams{DBDir: t.TempDir()})
	call(t, inst, "add", "a", 1)
	_, err := inst.Call(context.Background(), "blob", cborArgs(t, "big", 40<<20))
	wantCode(t, err, protocol.GroupDB, protocol.CodeDBTooLarge)
	call(t, inst, "add", "b", 1)
	deepEq(t, "names", callOut[[]string](t, inst, "names"), []string{"a", "b"})
	// A large step under the limit works and is restored.
	call(t, inst, "blob", "mid", 4<<20)
	if err := inst.Sleep(context.Background()); err != nil {
		t.Fatal(err)
	}
	deepEq(t, "names after restore", callOut[[]string](t, restart(t, kind, env, 2), "names"), []string{"a", "b", "mid"})
}

// TestDBCommitsOnlyChanges: reads and state-only steps write no chunk; an
// insert writes a few.
func TestDBCommitsOnlyChanges(t *testing.T) {
	env := &fakeEnv{}
	kind := dbKind(dbMigrations, actor.Options{})
	inst := startWith(t, kind, env, actor.ActivateParams{DBDir: t.TempDir()})
	call(t, inst, "add", "a", 1)
	saves := env.numSaves()
	call(t, inst, "count")
	eq(t, "commits after a read", env.numSaves(), saves)
	call(t, inst, "add", "b", 1)
	env.mu.Lock()
	last := env.commits[len(env.commits)-1]
	env.mu.Unlock()
	// A few pages: they ride in the record (no chunk, no batch).
	if len(last.DB) != 0 || len(last.DBPages) == 0 || len(last.DBPages) > 8 || last.DBBytes == 0 {
		t.Errorf("an insert committed %d chunks, %d pages, %d bytes", len(last.DB), len(last.DBPages), last.DBBytes)
	}
	// Many steps: the pages outgrow the record and go out as chunks.
	for k := range 100 {
		call(t, inst, "blob", "many"+strings.Repeat("x", k), 3000)
	}
	env.mu.Lock()
	var chunks int
	for _, c := range env.commits {
		chunks += len(c.DB)
		if n := len(c.DBPages) * protocol.DBPageBytes; n > protocol.MaxDBInlineBytes {
			t.Errorf("a record carries %d bytes of pages", n)
		}
	}
	env.mu.Unlock()
	if chunks == 0 {
		t.Error("no chunk was ever written")
	}
	if err := inst.Sleep(context.Background()); err != nil {
		t.Fatal(err)
	}
	eq(t, "rows after restore", callOut[int](t, restart(t, kind, env, 2), "count"), 102)
}

func TestDBInspector(t *testing.T) {
	env := &fakeEnv{}
	kind := dbKind(dbMigrations, actor.Options{})
	inst := startWith(t, kind, env, actor.ActivateParams{DBDir: t.TempDir()})
	schema, err := inst.DBSchema(context.Background())
	if err != nil || len(schema) != 0 {
		t.Fatalf("schema of an actor without a database: %v, %v", schema, err)
	}
	call(t, inst, "add", "a", 1)
	call(t, inst, "add", "b", 2)
	schema, err = inst.DBSchema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var items *actor.DBTable
	for k := range schema {
		if schema[k].Name == "items" {
			items = &schema[k]
		}
	}
	if items == nil || len(items.Columns) != 3 || !items.Columns[0].PrimaryKey || !items.Columns[1].NotNull {
		t.Fatalf("schema: %+v", schema)
	}
	rows, err := inst.DBRows(context.Background(), "items", 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	deepEq(t, "columns", rows.Columns, []string{"id", "name", "qty"})
	if len(rows.Rows) != 1 || rows.Rows[0][1] != "b" {
		t.Fatalf("rows: %+v", rows.Rows)
	}
	if _, err := inst.DBRows(context.Background(), `items" WHERE 1; --`, 10, 0); err == nil {
		t.Fatal("DBRows took an unknown table")
	}
	saves := env.numSaves()
	res, err := inst.DBExecute(context.Background(), "INSERT INTO items (name, qty) VALUES (?, ?)", []any{"c", 3})
	if err != nil || res.RowsAffected != 1 || res.LastInsertID != 3 {
		t.Fatalf("execute: %+v, %v", res, err)
	}
	if env.numSaves() != saves+1 {
		t.Error("DBExecute's change was not committed")
	}
	res, err = inst.DBExecute(context.Background(), "SELECT name FROM items WHERE qty > ?", []any{1})
	if err != nil || len(res.Rows) != 2 {
		t.Fatalf("select: %+v, %v", res, err)
	}
	_, err = inst.DBExecute(context.Background(), "INSERT INTO items (name, qty) VALUES ('a', 1)", nil)
	wantCode(t, err, protocol.GroupDB, protocol.CodeDBConstraint)
	eq(t, "count", callOut[int](t, inst, "count"), 3)
}

// TestDBManySteps: many steps growing and shrinking the database are
// restored exactly.
func TestDBManySteps(t *testing.T) {
	env := &fakeEnv{}
	kind := dbKind(dbMigrations, actor.Options{})
	inst := startWith(t, kind, env, actor.ActivateParams{DBDir: t.TempDir()})
	var want []string
	for k := range 300 {
		name := strings.Repeat("x", k%50) + string(rune('a'+k%26)) + string(rune('0'+k/26%10)) + string(rune('0'+k/260))
		call(t, inst, "add", name, k)
		want = append(want, name)
	}
	call(t, inst, "exec", "DELETE FROM items WHERE qty % 3 = 0")
	_, err := inst.Call(context.Background(), "exec", cborArgs(t, "VACUUM"))
	wantCode(t, err, protocol.GroupDB, protocol.CodeDBSQL) // not inside a transaction
	got := callOut[[]string](t, inst, "names")
	if err := inst.Sleep(context.Background()); err != nil {
		t.Fatal(err)
	}
	inst2 := restart(t, kind, env, 2)
	deepEq(t, "names after restore", callOut[[]string](t, inst2, "names"), got)
	if len(got) != 200 {
		t.Errorf("%d rows left, want 200", len(got))
	}
	if got[0] != want[1] {
		t.Errorf("first row %q, want %q", got[0], want[1])
	}
}
