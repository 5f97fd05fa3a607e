package actor

import (
	"context"
	"database/sql"
	"errors"
)

// DB is the actor's SQLite database (mattn/go-sqlite3): relational data
// that outgrows the state, queried with SQL. It is opened on first use in
// each activation (restored from JetStream when the actor has moved) and
// closed when the actor sleeps. Get one with [Context.DB]; it is valid only
// during the call it came from, and must not be used inside an await
// point's fn.
//
// Each step's SQL runs in one transaction, begun on first use in the step:
// when the step ends (the action returns, or an await point) it commits,
// and the pages it changed become durable in the step's commit, together
// with its state and KV writes, before the reply leaves. A step that fails
// rolls the transaction back with everything else. So transaction control
// (BEGIN, COMMIT, ROLLBACK) is not allowed in user SQL; SAVEPOINT is.
//
// Errors are *protocol.Error of group "db": db/sql_error (syntax, unknown
// table, ...), db/constraint (UNIQUE, NOT NULL, CHECK, FOREIGN KEY; foreign
// keys are enforced), db/full (Options.MaxDBBytes), db/not_allowed,
// db/migration_failed, db/transaction_aborted, db/too_large (the step
// changed more than protocol.MaxDBChunksPerStep chunks of 64 KiB). A
// failed statement changes nothing; the step may go on, and the caller sees
// the error if the action returns it.
type DB struct {
	ctx context.Context
	b   dbBackend
}

// dbBackend is the instance's side of the database.
type dbBackend interface {
	dbExec(ctx context.Context, query string, args []any) (sql.Result, error)
	dbQuery(ctx context.Context, query string, args []any) (*sql.Rows, error)
}

// DB returns the actor's SQLite database.
func (c *Context[S, V]) DB() *DB { return &DB{ctx: c, b: c.inst} }

// Exec runs a statement that returns no rows (several, separated by
// semicolons, when args is empty).
func (db *DB) Exec(query string, args ...any) (sql.Result, error) {
	return db.b.dbExec(db.ctx, query, args)
}

// Query runs a statement that returns rows. The rows are closed at the end
// of the step at the latest.
func (db *DB) Query(query string, args ...any) (*sql.Rows, error) {
	return db.b.dbQuery(db.ctx, query, args)
}

// QueryRow runs a statement expected to return at most one row; its Scan
// returns sql.ErrNoRows when there is none.
func (db *DB) QueryRow(query string, args ...any) *Row {
	rows, err := db.b.dbQuery(db.ctx, query, args)
	return &Row{rows: rows, err: err}
}

// Row is the result of [DB.QueryRow].
type Row struct {
	rows *sql.Rows
	err  error
}

// Scan copies the row's columns into dest (see sql.Rows.Scan).
func (r *Row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return dbError(err)
		}
		return sql.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return dbError(err)
	}
	return dbError(r.rows.Close())
}

// Err returns the query's error, if any.
func (r *Row) Err() error {
	if r.err != nil {
		return r.err
	}
	if err := r.rows.Err(); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return dbError(err)
	}
	return nil
}
