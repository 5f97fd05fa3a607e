package actor

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// The database's part in a step. The running step's SQL is one SQLite
// transaction; finishLocked commits it (dbCommitStep) after the state is
// encoded, and the chunks it changed join the step's group like KV writes.
// A failed step rolls it back (dbRollbackStep).

// errDBCapture: the local commit succeeded but what it changed could not
// be read; the local copy is then rebuilt from the durable one.
var errDBCapture = errors.New("database capture failed")

// dbTx returns the local database with the running step's transaction
// open: opened (and restored) on the first use in the activation,
// migrated on the first use in a committed step. Called with the turn
// held.
func (i *instance[S, V]) dbTx(ctx context.Context) (*localDB, error) {
	if i.dbClosed {
		return nil, protocol.ErrOwnerLost
	}
	if i.db == nil {
		d, err := i.dbOpen(ctx)
		if err != nil {
			i.ev(i.log.Error()).Err(err).Msg("opening the actor's database failed")
			return nil, protocol.ErrInternal
		}
		i.db = d
	}
	d := i.db
	if d.inTx {
		if d.txLost() {
			return nil, protocol.Errorf(protocol.GroupDB, protocol.CodeDBTxAborted,
				"an earlier error rolled the step's database transaction back; end the step and retry")
		}
		return d, nil
	}
	if err := d.begin(); err != nil {
		return nil, dbError(err)
	}
	if !d.migrated {
		if err := i.migrate(ctx, d); err != nil {
			if rerr := d.rollback(); rerr != nil {
				i.dbReset(rerr)
			}
			return nil, err
		}
	}
	return d, nil
}

// dbOpen builds the local copy of the database as the last finished step
// left it: the stored chunks, then those of the commits still pending
// (copied first: a commit acknowledged meanwhile is then in the copy, the
// store, or both), then the pages changed since their chunks were written.
func (i *instance[S, V]) dbOpen(ctx context.Context) (*localDB, error) {
	i.gmu.Lock()
	var pending []map[uint32][]byte
	if i.inflight != nil && i.inflight.db != nil {
		pending = append(pending, i.inflight.db)
	}
	for _, g := range i.queue {
		if g.db != nil {
			pending = append(pending, g.db)
		}
	}
	i.gmu.Unlock()
	chunks := map[uint32][]byte{}
	if i.dbBytes > 0 {
		stored, err := i.env.DBLoad(ctx)
		if err != nil {
			return nil, err
		}
		for _, c := range stored {
			chunks[c.N] = c.Data
		}
	}
	for _, p := range pending {
		maps.Copy(chunks, p)
	}
	image := make([]imagePart, 0, len(chunks)+len(i.dbPages))
	for n, b := range chunks {
		image = append(image, imagePart{off: int64(n) * protocol.DBChunkBytes, data: b})
	}
	for p, b := range i.dbPages {
		image = append(image, imagePart{off: int64(p-1) * protocol.DBPageBytes, data: b})
	}
	return openLocalDB(ctx, dbFileName(i.dbDir, i.info.ID, i.info.Gen), image, i.dbBytes, i.def.cfg.Options.MaxDBBytes)
}

// migrationsTable records how many of Config.Migrations were applied.
const migrationsTable = "_rivet_migrations"

// migrate runs the migrations not applied yet in the open transaction.
func (i *instance[S, V]) migrate(ctx context.Context, d *localDB) error {
	migs := i.def.cfg.Migrations
	d.stepMig = true
	if len(migs) == 0 {
		return nil
	}
	fail := func(format string, args ...any) error {
		return protocol.Errorf(protocol.GroupDB, protocol.CodeDBMigration, format, args...)
	}
	if _, err := d.conn.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+migrationsTable+
		" (id INTEGER PRIMARY KEY CHECK (id = 1), applied INTEGER NOT NULL)"); err != nil {
		return fail("create %s: %v", migrationsTable, err)
	}
	var applied int
	err := d.conn.QueryRowContext(ctx, "SELECT applied FROM "+migrationsTable+" WHERE id = 1").Scan(&applied)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fail("read %s: %v", migrationsTable, err)
	}
	if applied > len(migs) {
		return fail("the database has %d migrations applied; this code knows %d (deploy the newer version)", applied, len(migs))
	}
	if applied == len(migs) {
		return nil
	}
	for n := applied; n < len(migs); n++ {
		if _, err := d.conn.ExecContext(ctx, migs[n]); err != nil {
			return fail("migration %d: %v", n+1, err)
		}
	}
	if _, err := d.conn.ExecContext(ctx, "INSERT INTO "+migrationsTable+" (id, applied) VALUES (1, ?) "+
		"ON CONFLICT (id) DO UPDATE SET applied = excluded.applied", len(migs)); err != nil {
		return fail("record migrations: %v", err)
	}
	i.ev(i.log.Debug()).Int("from", applied).Int("to", len(migs)).Msg("database migrated")
	return nil
}

// dbCommitStep commits the running step's transaction. The pages it
// changed join the pages changed since their chunks were written
// (dbPages), which the state record carries while they fit in
// protocol.MaxDBInlineBytes: the commit stays one plain write. Past that
// (or when the step's commit is an atomic batch anyway, for its KV writes
// or schedules), the chunks holding all of them go in stepDB, to be written
// in the batch, and dbPages empties. An error fails the step; the local
// database is then as the last finished step left it. Called with the turn
// held.
func (i *instance[S, V]) dbCommitStep() error {
	d := i.db
	if d == nil {
		return nil
	}
	pages, size, err := d.commit(i.dbBytes)
	if errors.Is(err, errDBCapture) {
		i.dbReset(err)
		return protocol.ErrInternal
	}
	if err != nil {
		if we := wireError(err); we == protocol.ErrInternal {
			i.ev(i.log.Error()).Err(err).Msg("database commit failed")
		}
		return err
	}
	if len(pages) == 0 {
		return nil // read only
	}
	all := make(map[uint32]bool, len(pages)+len(i.dbPages))
	for p := range i.dbPages {
		if int64(p)*protocol.DBPageBytes <= size {
			all[p] = true
		}
	}
	for p := range pages {
		all[p] = true
	}
	if len(all)*protocol.DBPageBytes <= protocol.MaxDBInlineBytes && len(i.stepKV) == 0 && !i.stepSetsSchedule() {
		next, err := d.readPages(all)
		if err != nil {
			i.dbReset(err)
			return protocol.ErrInternal
		}
		i.dbPages, i.dbBytes, i.stepDBDirty = next, size, true
		return nil
	}
	chunks, err := d.readChunks(all, size)
	if err != nil {
		i.dbReset(err)
		return protocol.ErrInternal
	}
	if len(chunks) > protocol.MaxDBChunksPerStep {
		// Committed locally, too large to commit durably: rebuild the
		// local copy without it.
		i.dbReset(nil)
		return protocol.Errorf(protocol.GroupDB, protocol.CodeDBTooLarge,
			"the step changed %d chunks of the database (%d KiB); the limit is %d (%d MiB): split the work into several steps (c.SaveState)",
			len(chunks), len(chunks)*protocol.DBChunkBytes>>10, protocol.MaxDBChunksPerStep, protocol.MaxDBChunksPerStep*protocol.DBChunkBytes>>20)
	}
	i.stepDB, i.dbPages, i.dbBytes, i.stepDBDirty = chunks, nil, size, true
	return nil
}

// stepSetsSchedule reports whether the running step sets a schedule (its
// commit is then an atomic batch). Called with the turn held.
func (i *instance[S, V]) stepSetsSchedule() bool {
	for _, op := range i.stepSched {
		if op.Entry != nil {
			return true
		}
	}
	return false
}

// dbRollbackStep rolls the running step's transaction back. Called with
// the turn held.
func (i *instance[S, V]) dbRollbackStep() {
	if i.db == nil {
		return
	}
	if err := i.db.rollback(); err != nil {
		i.dbReset(err)
	}
	i.stepDB, i.stepDBDirty = nil, false
}

// dbReset drops the local copy; the next use rebuilds it from the
// durable one and the pending commits. Called with the turn held.
func (i *instance[S, V]) dbReset(cause error) {
	if cause != nil {
		i.ev(i.log.Error()).Err(cause).Msg("actor database reset")
	}
	if i.db != nil {
		i.db.close()
		i.db = nil
	}
	i.stepDB, i.stepDBDirty = nil, false
}

// dbClose closes the local database for good (the activation ended).
// Called with the turn held.
func (i *instance[S, V]) dbClose() {
	if i.db != nil {
		i.db.close()
		i.db = nil
	}
	i.dbClosed = true
}

// dbChunks lists a group's chunks in order, for the commit.
func dbChunks(m map[uint32][]byte) []DBChunk {
	if len(m) == 0 {
		return nil
	}
	out := make([]DBChunk, 0, len(m))
	for _, n := range slices.Sorted(maps.Keys(m)) {
		out = append(out, DBChunk{N: n, Data: m[n]})
	}
	return out
}

func (i *instance[S, V]) dbExec(ctx context.Context, query string, args []any) (sql.Result, error) {
	d, err := i.dbTx(ctx)
	if err != nil {
		return nil, err
	}
	res, err := d.conn.ExecContext(ctx, query, args...)
	if err != nil {
		return nil, dbError(err)
	}
	return res, nil
}

func (i *instance[S, V]) dbQuery(ctx context.Context, query string, args []any) (*sql.Rows, error) {
	d, err := i.dbTx(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := d.conn.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, dbError(err)
	}
	d.rows = append(d.rows, rows)
	return rows, nil
}
