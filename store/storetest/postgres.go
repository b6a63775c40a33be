package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	// The pgx driver registers itself as "pgx".
	_ "github.com/jackc/pgx/v5/stdlib"
)

// EnvPostgres names a PostgreSQL server (a postgres:// URL) the tests may
// create schemas on. Unset, the first test that needs PostgreSQL starts a
// throwaway cluster for the test process (`make test` starts one for the
// whole run and sets this).
const EnvPostgres = "TOLLGATE_TEST_POSTGRES"

var server struct {
	once    sync.Once
	dsn     string
	admin   *sql.DB
	cluster *Cluster
	err     error
}

var schemaSeq atomic.Int64

// NewSchema creates an empty schema for t on the test server and returns a
// postgres:// URL whose sessions use it (search_path); it is dropped with
// everything in it when t ends. durable false turns synchronous_commit off
// for those sessions; true keeps the server's (on), for benchmarks. The
// test fails with InstallHint when no server can be found or started, and
// is skipped only under TOLLGATE_SKIP_POSTGRES=1.
func NewSchema(t testing.TB, durable bool) string {
	t.Helper()
	dsn, admin := postgresServer(t)
	name := schemaName(t.Name())
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA "`+name+`"`); err != nil {
		t.Fatalf("create schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA "`+name+`" CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s is not a postgres:// URL: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", name)
	if !durable {
		q.Set("synchronous_commit", "off")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// postgresServer returns the server's URL and an admin connection to it,
// starting a cluster the first time when EnvPostgres is unset.
func postgresServer(t testing.TB) (string, *sql.DB) {
	t.Helper()
	if skipPostgres() {
		t.Skip("TOLLGATE_SKIP_POSTGRES=1: skipping the PostgreSQL half of this test")
	}
	server.once.Do(func() {
		server.dsn = os.Getenv(EnvPostgres)
		if server.dsn == "" {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			server.cluster, server.err = StartCluster(ctx)
			if server.err != nil {
				return
			}
			server.dsn = server.cluster.DSN
		} else if l := strings.ToLower(server.dsn); !strings.HasPrefix(l, "postgres://") && !strings.HasPrefix(l, "postgresql://") {
			server.err = fmt.Errorf("%s must be a postgres:// URL", EnvPostgres)
			return
		}
		server.admin, server.err = sql.Open("pgx", server.dsn)
		if server.err == nil {
			server.err = server.admin.Ping()
		}
	})
	if server.err != nil {
		t.Fatalf("PostgreSQL for the store tests: %v\n\n%s", server.err, InstallHint)
	}
	return server.dsn, server.admin
}

// stopServer closes the admin connection and stops the cluster, if this
// process started one.
func stopServer() {
	if server.admin != nil {
		server.admin.Close()
	}
	if server.cluster != nil {
		server.cluster.Stop()
	}
}

var notIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// schemaName turns a test name into a schema name unique on the server
// (several test processes share it): at most 63 bytes, a PostgreSQL identifier.
func schemaName(test string) string {
	base := notIdent.ReplaceAllString(strings.ToLower(test), "_")
	if len(base) > 36 {
		base = base[:36]
	}
	return fmt.Sprintf("t_%s_%d_%d", base, os.Getpid(), schemaSeq.Add(1))
}
