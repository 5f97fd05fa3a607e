package actor

import (
	"context"
	"database/sql"
	"strings"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Inspector access to an actor's database (RivetKit's database/schema,
// database/rows and database/execute). Each call is a step of its own, run
// one at a time with actions: reads see every finished step, and what
// DBExecute changes is committed like an action's changes before it
// returns.

// DBTable is one table or view of an actor's database.
type DBTable struct {
	Name    string     `cbor:"name" json:"name"`
	Type    string     `cbor:"type" json:"type"` // "table" or "view"
	SQL     string     `cbor:"sql" json:"sql"`
	Columns []DBColumn `cbor:"columns" json:"columns"`
	// Records is the number of rows.
	Records int64 `cbor:"records" json:"records"`
	// ForeignKeys are the table's foreign keys.
	ForeignKeys []DBForeignKey `cbor:"foreignKeys" json:"foreignKeys"`
}

// DBForeignKey is one foreign key of a [DBTable]: column From references
// column To of table Table (ID groups the columns of one key).
type DBForeignKey struct {
	ID    int    `cbor:"id" json:"id"`
	Table string `cbor:"table" json:"table"`
	From  string `cbor:"from" json:"from"`
	To    string `cbor:"to" json:"to"`
}

// DBColumn is one column of a [DBTable].
type DBColumn struct {
	Name       string `cbor:"name" json:"name"`
	Type       string `cbor:"type" json:"type"`
	NotNull    bool   `cbor:"notNull" json:"notNull"`
	PrimaryKey bool   `cbor:"primaryKey" json:"primaryKey"`
	Default    any    `cbor:"default" json:"default"`
}

// DBResult is the outcome of a statement: its rows, or for a change, the
// rows it changed and the last inserted row id.
type DBResult struct {
	Columns      []string `cbor:"columns" json:"columns"`
	Rows         [][]any  `cbor:"rows" json:"rows"`
	RowsAffected int64    `cbor:"rowsAffected" json:"rowsAffected"`
	LastInsertID int64    `cbor:"lastInsertId" json:"lastInsertId"`
}

// MaxInspectRows bounds the rows of one DBRows call.
const MaxInspectRows = 1000

// inspectDB runs fn as a step of its own. A step that fails is rolled
// back.
func (i *instance[S, V]) inspectDB(ctx context.Context, fn func(c *Context[S, V]) error) error {
	if err := i.begin(); err != nil {
		return err
	}
	c := &Context[S, V]{Context: ctx, inst: i}
	we, _ := i.guard("inspector", func() error { return fn(c) })
	if we != nil {
		return i.fail(c, we)
	}
	return i.settle(c, true)
}

// hasDB reports whether the actor has a database. Called with the turn
// held.
func (i *instance[S, V]) hasDB() bool { return i.db != nil || i.dbBytes > 0 }

func (i *instance[S, V]) DBSchema(ctx context.Context) ([]DBTable, error) {
	var out []DBTable
	err := i.inspectDB(ctx, func(c *Context[S, V]) error {
		if !i.hasDB() {
			return nil // nothing to open (and migrate) for a look
		}
		rows, err := c.DB().Query("SELECT name, type, COALESCE(sql, '') FROM sqlite_schema " +
			"WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")
		if err != nil {
			return err
		}
		for rows.Next() {
			var t DBTable
			if err := rows.Scan(&t.Name, &t.Type, &t.SQL); err != nil {
				return dbError(err)
			}
			out = append(out, t)
		}
		if err := rows.Err(); err != nil {
			return dbError(err)
		}
		for k := range out {
			cols, err := c.DB().Query("SELECT name, type, \"notnull\", pk, dflt_value FROM pragma_table_info(?)", out[k].Name)
			if err != nil {
				return err
			}
			for cols.Next() {
				var col DBColumn
				var pk int
				if err := cols.Scan(&col.Name, &col.Type, &col.NotNull, &pk, &col.Default); err != nil {
					return dbError(err)
				}
				col.PrimaryKey = pk > 0
				out[k].Columns = append(out[k].Columns, col)
			}
			if err := cols.Err(); err != nil {
				return dbError(err)
			}
			fks, err := c.DB().Query(`SELECT id, "table", "from", COALESCE("to", '') FROM pragma_foreign_key_list(?)`, out[k].Name)
			if err != nil {
				return err
			}
			out[k].ForeignKeys = []DBForeignKey{}
			for fks.Next() {
				var fk DBForeignKey
				if err := fks.Scan(&fk.ID, &fk.Table, &fk.From, &fk.To); err != nil {
					return dbError(err)
				}
				out[k].ForeignKeys = append(out[k].ForeignKeys, fk)
			}
			if err := fks.Err(); err != nil {
				return dbError(err)
			}
			q := `SELECT COUNT(*) FROM "` + strings.ReplaceAll(out[k].Name, `"`, `""`) + `"`
			if err := c.DB().QueryRow(q).Scan(&out[k].Records); err != nil {
				return dbError(err)
			}
		}
		return nil
	})
	return out, err
}

func (i *instance[S, V]) DBRows(ctx context.Context, table string, limit, offset int) (*DBResult, error) {
	if limit <= 0 || limit > MaxInspectRows {
		limit = min(max(limit, 100), MaxInspectRows)
	}
	offset = max(offset, 0)
	var res *DBResult
	err := i.inspectDB(ctx, func(c *Context[S, V]) error {
		var n int
		if i.hasDB() {
			if err := c.DB().QueryRow("SELECT count(*) FROM sqlite_schema WHERE type IN ('table', 'view') AND name = ?", table).Scan(&n); err != nil {
				return err
			}
		}
		if n == 0 {
			return protocol.Errorf(protocol.GroupDB, protocol.CodeDBSQL, "no such table: %s", table)
		}
		rows, err := c.DB().Query("SELECT * FROM "+quoteIdent(table)+" LIMIT ? OFFSET ?", limit, offset)
		if err != nil {
			return err
		}
		res, err = collect(rows)
		return err
	})
	return res, err
}

func (i *instance[S, V]) DBExecute(ctx context.Context, query string, args []any) (*DBResult, error) {
	var res *DBResult
	err := i.inspectDB(ctx, func(c *Context[S, V]) error {
		rows, err := c.DB().Query(query, args...)
		if err != nil {
			return err
		}
		if res, err = collect(rows); err != nil {
			return err
		}
		if len(res.Columns) == 0 {
			return c.DB().QueryRow("SELECT changes(), last_insert_rowid()").Scan(&res.RowsAffected, &res.LastInsertID)
		}
		return nil
	})
	return res, err
}

// collect reads every row (running the statement to its end).
func collect(rows *sql.Rows) (*DBResult, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, dbError(err)
	}
	res := &DBResult{Columns: cols, Rows: [][]any{}}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for k := range vals {
			ptrs[k] = &vals[k]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, dbError(err)
		}
		res.Rows = append(res.Rows, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err)
	}
	return res, nil
}

// quoteIdent quotes a SQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
