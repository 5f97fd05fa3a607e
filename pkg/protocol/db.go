package protocol

import (
	"strconv"
	"strings"
)

// An actor's SQLite database (c.DB) is stored as chunks of its file image:
// entry DBChunkKey(id, n) of the state bucket holds bytes
// [n*DBChunkBytes, (n+1)*DBChunkBytes) of the file, and the state record's
// DBBytes its length. Pages changed since the chunks were last written
// ride in the state record itself (StateRecord.DBPages, at most
// MaxDBInlineBytes): a step that changes a few pages is one plain write of
// the record. When they outgrow that, the commit writes the chunks holding
// them in the same atomic batch as the record, which then carries none.

// Database limits.
const (
	// DBChunkBytes is the size of one stored chunk of a database (16
	// pages of 4 KiB).
	DBChunkBytes = 64 << 10
	// DBPageBytes is the page size of every actor database.
	DBPageBytes = 4096
	// MaxDBInlineBytes bounds the changed pages a state record carries
	// (16 pages).
	MaxDBInlineBytes = 64 << 10
	// MaxDBChunksPerStep is how many chunks one step may change (32 MiB):
	// a commit is one atomic batch of at most 1,000 messages.
	MaxDBChunksPerStep = 512
	// DefaultMaxDBBytes is the largest database an actor may keep unless
	// its kind says otherwise (actor.Options.MaxDBBytes).
	DefaultMaxDBBytes = 256 << 20
)

// Database errors.
const (
	GroupDB = "db"
	// CodeDBSQL: a statement failed (syntax, unknown table, type, ...).
	CodeDBSQL = "sql_error" // db/sql_error
	// CodeDBConstraint: a constraint (UNIQUE, NOT NULL, CHECK, FOREIGN
	// KEY) was violated.
	CodeDBConstraint = "constraint" // db/constraint
	// CodeDBTooLarge: a step changed more than MaxDBChunksPerStep chunks.
	CodeDBTooLarge = "too_large" // db/too_large
	// CodeDBFull: the database reached its size limit.
	CodeDBFull = "full" // db/full
	// CodeDBNotAllowed: the statement is not allowed on an actor database
	// (transaction control, ATTACH, PRAGMAs that change how it is stored).
	CodeDBNotAllowed = "not_allowed" // db/not_allowed
	// CodeDBMigration: a migration failed, or the database has more
	// migrations applied than the code knows.
	CodeDBMigration = "migration_failed" // db/migration_failed
	// CodeDBTxAborted: an earlier error rolled the step's transaction
	// back; the step fails.
	CodeDBTxAborted = "transaction_aborted" // db/transaction_aborted
)

// DBChunkKey is the state bucket key of chunk n of actor id's database.
func DBChunkKey(id string, n uint32) string { return id + ".db." + strconv.FormatUint(uint64(n), 10) }

// DecodeDBChunkKey returns the chunk number of a [DBChunkKey] of actor id.
func DecodeDBChunkKey(id, k string) (uint32, bool) {
	p := id + ".db."
	if !strings.HasPrefix(k, p) {
		return 0, false
	}
	n, err := strconv.ParseUint(k[len(p):], 10, 32)
	return uint32(n), err == nil
}

// DBChunkSubject is the stream subject of a [DBChunkKey].
func (n Names) DBChunkSubject(id string, chunk uint32) string {
	return n.StateSubjectPrefix() + DBChunkKey(id, chunk)
}

// DBSubjects is the filter of every database chunk of actor id.
func (n Names) DBSubjects(id string) string { return n.StateSubjectPrefix() + id + ".db.*" }
