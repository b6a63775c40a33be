package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// A transaction on PostgreSQL costs a round trip for BEGIN, one per
// statement and one for COMMIT; on a small machine each round trip is
// 0.15–0.2 ms, several times the server's work for an audited state change.
// So BEGIN is not sent on its own: it waits for the transaction's first
// statement and, when that is an Exec with arguments (the usual state
// change, an audit append), goes with it in one pipelined round trip. A
// transaction whose first statement is a query sends BEGIN just before it,
// as pgx would have. Nothing can observe the difference: PostgreSQL takes a
// transaction's snapshot at its first statement, not at BEGIN.

// BeginTx implements driver.ConnBeginTx, deferring the BEGIN.
func (c *rebindConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.Conn.Conn().IsClosed() {
		return nil, driver.ErrBadConn
	}
	begin, err := beginStatement(opts)
	if err != nil {
		return nil, err
	}
	c.pendingBegin = begin
	return &lazyTx{ctx: ctx, c: c}, nil
}

// beginStatement is the BEGIN that opens a transaction with opts.
func beginStatement(opts driver.TxOptions) (string, error) {
	begin := "begin"
	switch sql.IsolationLevel(opts.Isolation) {
	case sql.LevelDefault:
	case sql.LevelReadUncommitted:
		begin += " isolation level read uncommitted"
	case sql.LevelReadCommitted:
		begin += " isolation level read committed"
	case sql.LevelRepeatableRead, sql.LevelSnapshot:
		begin += " isolation level repeatable read"
	case sql.LevelSerializable:
		begin += " isolation level serializable"
	default:
		return "", fmt.Errorf("begin transaction: unsupported isolation level %v", sql.IsolationLevel(opts.Isolation))
	}
	if opts.ReadOnly {
		begin += " read only"
	}
	return begin, nil
}

// sendPendingBegin sends a deferred BEGIN on its own, before a statement
// that cannot carry it.
func (c *rebindConn) sendPendingBegin(ctx context.Context) error {
	if c.pendingBegin == "" {
		return nil
	}
	begin := c.pendingBegin
	c.pendingBegin = ""
	if _, err := c.Conn.Conn().Exec(ctx, begin); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	return nil
}

// execWithBegin runs the deferred BEGIN and query (already rebound) in one
// pipelined round trip.
func (c *rebindConn) execWithBegin(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	begin := c.pendingBegin
	c.pendingBegin = ""
	values := make([]any, len(args))
	for i, a := range args {
		values[i] = a.Value
	}
	b := &pgx.Batch{}
	b.Queue(begin)
	b.Queue(query, values...)
	br := c.Conn.Conn().SendBatch(ctx, b)
	_, err := br.Exec()
	if err != nil {
		br.Close()
		return nil, fmt.Errorf("begin transaction: %w", err)
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return driver.RowsAffected(tag.RowsAffected()), nil
}

// lazyTx is a transaction whose BEGIN may not have been sent yet.
type lazyTx struct {
	ctx context.Context
	c   *rebindConn
}

// Commit implements driver.Tx as pgx's own transaction does: a COMMIT
// that PostgreSQL answers with ROLLBACK (the transaction had failed) is an
// error, and a failed COMMIT closes a connection left inside a transaction.
func (t *lazyTx) Commit() error {
	if t.c.pendingBegin != "" { // nothing ran
		t.c.pendingBegin = ""
		return nil
	}
	conn := t.c.Conn.Conn()
	tag, err := conn.Exec(t.ctx, "commit")
	if err != nil {
		if conn.PgConn().TxStatus() != 'I' {
			_ = conn.Close(t.ctx)
		}
		return err
	}
	if tag.String() == "ROLLBACK" {
		return pgx.ErrTxCommitRollback
	}
	return nil
}

// Rollback implements driver.Tx; a failed ROLLBACK closes the connection,
// whose state is then unknown.
func (t *lazyTx) Rollback() error {
	if t.c.pendingBegin != "" {
		t.c.pendingBegin = ""
		return nil
	}
	conn := t.c.Conn.Conn()
	if _, err := conn.Exec(t.ctx, "rollback"); err != nil {
		_ = conn.Close(t.ctx)
		return err
	}
	return nil
}
