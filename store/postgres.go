package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// IsPostgres reports whether a database location (the config's
// `database:`, a --database flag) names a PostgreSQL database, a
// postgres:// or postgresql:// URL, rather than a SQLite file.
func IsPostgres(location string) bool {
	l := strings.ToLower(location)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

// Describe names a database location for messages and logs: a SQLite
// path as it is, a PostgreSQL URL without its password.
func Describe(location string) string {
	if !IsPostgres(location) {
		return location
	}
	u, err := url.Parse(location)
	if err != nil {
		return "postgres://(a URL that does not parse)"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// maxPostgresConns bounds one process's connections to PostgreSQL (the
// LISTEN connection of Store.Listen is one more).
const maxPostgresConns = 20

// openPostgres opens a connection pool on the PostgreSQL database at dsn
// whose connections rebind `?` placeholders (see rebind). readOnly makes
// every transaction of every connection read-only; syncOff turns
// synchronous_commit off for this pool's sessions (test fixtures, bulk loads).
func openPostgres(ctx context.Context, dsn string, readOnly, syncOff bool) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message quotes the URL (redacting what it recognises as a
		// password); ours names it without any password at all.
		return nil, fmt.Errorf("%s is not a valid PostgreSQL URL (want postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=…)", Describe(dsn))
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "tollgate"
	}
	if readOnly {
		cfg.RuntimeParams["default_transaction_read_only"] = "on"
	}
	if syncOff {
		cfg.RuntimeParams["synchronous_commit"] = "off"
	}
	db := sql.OpenDB(rebindConnector{stdlib.GetConnector(*cfg)})
	// Bounded, so N replicas need at most N × maxPostgresConns of the
	// server's max_connections (docs/ha.md); a burst queues for a
	// connection rather than being refused by the server.
	db.SetMaxOpenConns(maxPostgresConns)
	db.SetMaxIdleConns(maxPostgresConns / 2)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	return db, nil
}

// OpenDB opens the database at location with the driver and placeholder
// rules the store uses, but without the store: no migrations, no checks.
// It is how tests act as someone with direct access to the database (the
// SQLite file's owner, a PostgreSQL superuser), and how tools read one.
func OpenDB(ctx context.Context, location string) (*sql.DB, error) {
	if IsPostgres(location) {
		db, err := openPostgres(ctx, location, false, false)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", Describe(location), err)
		}
		return db, nil
	}
	db, err := sql.Open("sqlite3", fmt.Sprintf("file:%s?_busy_timeout=%d", escapePath(location), busyTimeoutMS))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", location, err)
	}
	return db, nil
}

// rebindConnector makes pgx connections that take `?` placeholders.
type rebindConnector struct{ driver.Connector }

// Connect implements driver.Connector.
func (c rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc, ok := conn.(*stdlib.Conn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("pgx connector returned %T, not *stdlib.Conn", conn)
	}
	return &rebindConn{Conn: sc}, nil
}

// rebindConn is a pgx connection whose statements are rebound; every other
// driver interface (transactions, pings, session reset, value checks) is
// the embedded connection's, except that a transaction's BEGIN is deferred
// (postgres_tx.go).
type rebindConn struct {
	*stdlib.Conn
	// pendingBegin is the BEGIN of a transaction that has not sent it yet.
	pendingBegin string
}

// Prepare implements driver.Conn.
func (c *rebindConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext implements driver.ConnPrepareContext. The statement stays
// prepared on the connection after Close (see keptStmt).
func (c *rebindConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	query = rebind(query)
	st, err := c.Conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if ps, ok := st.(*stdlib.Stmt); ok {
		return keptStmt{Stmt: ps, c: c, query: query}, nil
	}
	return st, nil
}

// keptStmt is a prepared statement whose Close leaves it prepared on the
// server: the store prepares the same few statements in transaction after
// transaction (an audit append prepares its INSERT), and pgx would spend a
// round trip deallocating it and another preparing it again each time.
// pgx names a statement by its text, so the next Prepare of the same text
// on that connection finds it; the number kept is bounded by the store's
// distinct statements, and they go with the connection. It runs through
// its connection, so that a deferred BEGIN is sent before it.
type keptStmt struct {
	*stdlib.Stmt
	c     *rebindConn
	query string // rebound
}

// Close implements driver.Stmt, keeping the statement.
func (keptStmt) Close() error { return nil }

// ExecContext implements driver.StmtExecContext.
func (s keptStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.c.exec(ctx, s.query, args)
}

// QueryContext implements driver.StmtQueryContext.
func (s keptStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.c.query(ctx, s.query, args)
}

// ExecContext implements driver.ExecerContext. A statement without
// arguments has no placeholders and is sent as it is (migrations).
func (c *rebindConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) > 0 {
		query = rebind(query)
	}
	return c.exec(ctx, query, args)
}

// exec runs a rebound statement, with a deferred BEGIN in the same round
// trip when it has arguments. One without is sent by pgx in the simple
// protocol (it may be several statements: migrations), so BEGIN goes first.
func (c *rebindConn) exec(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if c.pendingBegin != "" {
		if len(args) > 0 {
			return c.execWithBegin(ctx, query, args)
		}
		if err := c.sendPendingBegin(ctx); err != nil {
			return nil, err
		}
	}
	return c.Conn.ExecContext(ctx, query, args)
}

// QueryContext implements driver.QueryerContext.
func (c *rebindConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) > 0 {
		query = rebind(query)
	}
	return c.query(ctx, query, args)
}

// query runs a rebound query, after a deferred BEGIN.
func (c *rebindConn) query(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if err := c.sendPendingBegin(ctx); err != nil {
		return nil, err
	}
	return c.Conn.QueryContext(ctx, query, args)
}
