package actor

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/mattn/go-sqlite3"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// localDB is the local copy of an actor's SQLite database for one
// activation: a private file in WAL mode with one connection, exclusive
// locking (no shared-memory file: two file descriptors) and automatic
// checkpoints off.
//
// How a commit finds what changed: the step's transaction commits into the
// WAL, whose frames name every page it wrote (and, in the commit frame, the
// database's length in pages). After the commit the WAL is read, then
// checkpointed into the database file and truncated, so it only ever holds
// the last transaction; the changed pages (or the chunks holding them) are
// then read from the database file. The cost is proportional to what the step changed, not to the
// database's size. Dirty pages never spill into the WAL before the commit
// (cache_spill off), so a rolled-back transaction leaves nothing there.
type localDB struct {
	path string
	db   *sql.DB
	conn *sql.Conn
	raw  *sqlite3.SQLiteConn
	// internal lets the host's own transaction and PRAGMA statements past
	// the authorizer.
	internal atomic.Bool
	inTx     bool
	rows     []*sql.Rows // handed out in the running step; closed at its end
	// migrated is set once the migrations ran in a committed step; stepMig
	// when they ran in the running step's transaction.
	migrated, stepMig bool
}

// dbDriver is the database/sql driver name of actor databases.
const dbDriver = "sqlite3"

// deniedPragmas change how the database is stored or synced: the commit
// path depends on them.
var deniedPragmas = map[string]bool{
	"journal_mode": true, "locking_mode": true, "synchronous": true, "wal_autocheckpoint": true,
	"wal_checkpoint": true, "cache_spill": true, "page_size": true, "max_page_count": true,
	"mmap_size": true, "temp_store_directory": true, "data_store_directory": true,
	"writable_schema": true, "temp_store": true, "query_only": true,
}

// openLocalDB creates the file at path from image (nil for a new
// database) truncated to size, and opens it.
func openLocalDB(ctx context.Context, path string, image []imagePart, size, maxBytes int64) (*localDB, error) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	if err := writeImage(path, image, size); err != nil {
		return nil, fmt.Errorf("restore database: %w", err)
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath()
	db, err := sql.Open(dbDriver, dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	d := &localDB{path: path, db: db, conn: conn}
	if err := conn.Raw(func(dc any) error {
		sc, ok := dc.(*sqlite3.SQLiteConn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		d.raw = sc
		return nil
	}); err != nil {
		d.close()
		return nil, err
	}
	d.raw.RegisterAuthorizer(d.authorize)
	pages := max(maxBytes/protocol.DBPageBytes, 1)
	pragmas := []string{
		"PRAGMA locking_mode=EXCLUSIVE", // before WAL: no -shm file
		fmt.Sprintf("PRAGMA page_size=%d", protocol.DBPageBytes),
		"PRAGMA journal_mode=WAL",
		"PRAGMA synchronous=OFF", // JetStream holds the durable copy
		"PRAGMA wal_autocheckpoint=0",
		"PRAGMA cache_spill=OFF",
		"PRAGMA temp_store=MEMORY",
		"PRAGMA cache_size=-1024", // 1 MiB of page cache at most
		"PRAGMA foreign_keys=ON",
		fmt.Sprintf("PRAGMA max_page_count=%d", pages),
	}
	d.internal.Store(true)
	defer d.internal.Store(false)
	for _, p := range pragmas {
		if _, err := conn.ExecContext(ctx, p); err != nil {
			d.close()
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || !strings.EqualFold(mode, "wal") {
		d.close()
		return nil, fmt.Errorf("database is not in WAL mode (%q, %v)", mode, err)
	}
	return d, nil
}

// imagePart is bytes of a database file at an offset.
type imagePart struct {
	off  int64
	data []byte
}

// writeImage writes a stored database to a new file: parts in order (a
// later one overwrites an earlier one), truncated to size.
func writeImage(path string, image []imagePart, size int64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	for _, c := range image {
		if c.off >= size {
			continue // left over from when the database was longer
		}
		data := c.data
		if rest := size - c.off; int64(len(data)) > rest {
			data = data[:rest]
		}
		if _, err := f.WriteAt(data, c.off); err != nil {
			_ = f.Close()
			return err
		}
	}
	if err := f.Truncate(size); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// authorize keeps user SQL from ending the step's transaction, attaching
// other files or changing how the database is stored.
func (d *localDB) authorize(op int, arg1, _, _ string) int {
	if d.internal.Load() {
		return sqlite3.SQLITE_OK
	}
	switch op {
	case sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH:
		return sqlite3.SQLITE_DENY
	case sqlite3.SQLITE_PRAGMA:
		if deniedPragmas[strings.ToLower(arg1)] {
			return sqlite3.SQLITE_DENY
		}
	}
	return sqlite3.SQLITE_OK
}

// exec runs one of the host's own statements.
func (d *localDB) exec(query string) error {
	d.internal.Store(true)
	defer d.internal.Store(false)
	_, err := d.conn.ExecContext(context.Background(), query)
	return err
}

// begin starts the step's transaction.
func (d *localDB) begin() error {
	if err := d.exec("BEGIN"); err != nil {
		return err
	}
	d.inTx = true
	return nil
}

// txLost reports whether SQLite ended the step's transaction on its own
// (some errors roll it back).
func (d *localDB) txLost() bool { return d.inTx && d.raw.AutoCommit() }

// closeRows closes the rows the step left open.
func (d *localDB) closeRows() {
	for _, r := range d.rows {
		_ = r.Close()
	}
	d.rows = nil
}

// rollback ends the step's transaction without changes.
func (d *localDB) rollback() error {
	d.closeRows()
	if !d.inTx {
		return nil
	}
	d.inTx, d.stepMig = false, false
	if d.raw.AutoCommit() {
		return nil // already rolled back by SQLite
	}
	return d.exec("ROLLBACK")
}

// commit commits the step's transaction and returns the pages it changed
// and the database's new length (size is the length before). The WAL is
// checkpointed: the database file holds every committed page.
func (d *localDB) commit(size int64) (map[uint32]bool, int64, error) {
	d.closeRows()
	if !d.inTx {
		return nil, size, nil
	}
	if d.txLost() {
		d.inTx, d.stepMig = false, false
		return nil, size, protocol.Errorf(protocol.GroupDB, protocol.CodeDBTxAborted,
			"an earlier error rolled the step's database transaction back; the step's SQL changes are lost")
	}
	if err := d.exec("COMMIT"); err != nil {
		_ = d.rollback()
		return nil, size, dbError(err)
	}
	d.inTx = false
	if d.stepMig {
		d.migrated, d.stepMig = true, false
	}
	pages, newSize, err := d.changed(size)
	if err != nil {
		return nil, size, fmt.Errorf("%w: %v", errDBCapture, err)
	}
	return pages, newSize, nil
}

// changed reads the pages the last transaction wrote to the WAL and
// checkpoints it.
func (d *localDB) changed(size int64) (map[uint32]bool, int64, error) {
	wal, err := os.ReadFile(d.path + "-wal")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, size, err
	}
	pages, newPages, err := walPages(wal)
	if err != nil {
		return nil, size, err
	}
	if len(pages) == 0 {
		return nil, size, nil // read only
	}
	var busy, logFrames, ckpt int
	d.internal.Store(true)
	err = d.conn.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &ckpt)
	d.internal.Store(false)
	if err != nil {
		return nil, size, fmt.Errorf("checkpoint: %w", err)
	}
	if busy != 0 {
		return nil, size, errors.New("checkpoint: database busy")
	}
	size = int64(newPages) * protocol.DBPageBytes
	for p := range pages {
		if int64(p)*protocol.DBPageBytes > size {
			delete(pages, p) // the database shrank past it
		}
	}
	return pages, size, nil
}

// readPages reads pages of the database file.
func (d *localDB) readPages(pages map[uint32]bool) (map[uint32][]byte, error) {
	out := make(map[uint32][]byte, len(pages))
	err := d.read(func(f *os.File) error {
		for p := range pages {
			buf := make([]byte, protocol.DBPageBytes)
			if _, err := f.ReadAt(buf, int64(p-1)*protocol.DBPageBytes); err != nil {
				return err
			}
			out[p] = buf
		}
		return nil
	})
	return out, err
}

// readChunks reads the chunks holding pages from the database file of
// length size.
func (d *localDB) readChunks(pages map[uint32]bool, size int64) (map[uint32][]byte, error) {
	out := map[uint32][]byte{}
	for p := range pages {
		out[pageChunk(p)] = nil
	}
	err := d.read(func(f *os.File) error {
		for n := range out {
			off := int64(n) * protocol.DBChunkBytes
			buf := make([]byte, min(protocol.DBChunkBytes, size-off))
			if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			out[n] = buf
		}
		return nil
	})
	return out, err
}

func (d *localDB) read(fn func(f *os.File) error) error {
	f, err := os.Open(d.path)
	if err != nil {
		return err
	}
	defer f.Close()
	return fn(f)
}

// pageChunk is the chunk holding page p (pages count from 1).
func pageChunk(p uint32) uint32 {
	return uint32(int64(p-1) * protocol.DBPageBytes / protocol.DBChunkBytes)
}

// walPages parses a WAL file holding one committed transaction: the pages
// its frames wrote, up to the last commit frame, and the database's length
// in pages after it (https://www.sqlite.org/fileformat2.html#walformat).
func walPages(wal []byte) (map[uint32]bool, uint32, error) {
	const hdr, fhdr = 32, 24
	if len(wal) < hdr {
		return nil, 0, nil
	}
	if magic := binary.BigEndian.Uint32(wal); magic&^1 != 0x377f0682 {
		return nil, 0, fmt.Errorf("wal: bad magic %#x", magic)
	}
	psz := int(binary.BigEndian.Uint32(wal[8:]))
	if psz != protocol.DBPageBytes {
		return nil, 0, fmt.Errorf("wal: page size %d, want %d", psz, protocol.DBPageBytes)
	}
	salt := wal[16:24]
	var seen []uint32
	committed, dbPages := 0, uint32(0)
	for off := hdr; off+fhdr+psz <= len(wal); off += fhdr + psz {
		f := wal[off : off+fhdr]
		if string(f[8:16]) != string(salt) {
			break // a frame of an older WAL generation
		}
		seen = append(seen, binary.BigEndian.Uint32(f))
		if n := binary.BigEndian.Uint32(f[4:]); n != 0 {
			committed, dbPages = len(seen), n
		}
	}
	if committed == 0 {
		return nil, 0, nil
	}
	pages := make(map[uint32]bool, committed)
	for _, p := range seen[:committed] {
		pages[p] = true
	}
	return pages, dbPages, nil
}

// close closes the connection and removes the files.
func (d *localDB) close() {
	d.closeRows()
	if d.conn != nil {
		_ = d.conn.Close()
	}
	_ = d.db.Close()
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		_ = os.Remove(d.path + suffix)
	}
}

// dbFileName is the local file of one activation's database.
func dbFileName(dir, id string, gen uint64) string {
	if dir == "" {
		dir = os.TempDir()
	}
	return filepath.Join(dir, fmt.Sprintf("rivetgo-%s-%d.db", id, gen))
}

// dbError turns a SQLite error into a stable, user-visible error.
func dbError(err error) error {
	if err == nil {
		return nil
	}
	var pe *protocol.Error
	if errors.As(err, &pe) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var se sqlite3.Error
	if !errors.As(err, &se) {
		// database/sql's own checks: argument count and conversion.
		return protocol.Errorf(protocol.GroupDB, protocol.CodeDBSQL, "%v", err)
	}
	switch se.Code {
	case sqlite3.ErrConstraint:
		return protocol.Errorf(protocol.GroupDB, protocol.CodeDBConstraint, "%v", err)
	case sqlite3.ErrAuth:
		return protocol.Errorf(protocol.GroupDB, protocol.CodeDBNotAllowed,
			"%v: transaction control, ATTACH and storage PRAGMAs are not allowed (each step is one transaction)", err)
	case sqlite3.ErrFull:
		return protocol.Errorf(protocol.GroupDB, protocol.CodeDBFull, "the actor's database is full (Options.MaxDBBytes): %v", err)
	case sqlite3.ErrError, sqlite3.ErrRange, sqlite3.ErrMismatch, sqlite3.ErrTooBig, sqlite3.ErrReadonly:
		return protocol.Errorf(protocol.GroupDB, protocol.CodeDBSQL, "%v", err)
	case sqlite3.ErrInterrupt:
		return context.Canceled
	}
	return fmt.Errorf("sqlite: %w", err)
}
