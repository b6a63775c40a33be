// Package storetest gives each store test its own empty database on the
// engine it runs on: a file in the test's temporary directory on SQLite, a
// schema of its own on one PostgreSQL server per test process (a throwaway
// cluster, or TOLLGATE_TEST_POSTGRES). Run runs a test on both engines.
//
// It does not import the store, so the store's own tests can use it.
package storetest

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Engine is a database engine the store runs on.
type Engine string

// The engines.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// Engines lists every engine, in the order Run runs them.
var Engines = []Engine{SQLite, Postgres}

// engineOf maps the name of each subtest Run started to its engine.
var engineOf sync.Map

// Run runs fn as two subtests, "sqlite" and "postgres". Inside each (and
// its subtests) Location, and the helpers built on it, give databases on
// that engine.
func Run(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	for _, e := range Engines {
		RunOn(t, e, fn)
	}
}

// RunOn runs fn as one subtest named after engine e, on that engine: for
// what only one engine has (PostgreSQL's TRUNCATE, SQLite's file backups).
func RunOn(t *testing.T, e Engine, fn func(t *testing.T)) {
	t.Helper()
	t.Run(string(e), func(t *testing.T) {
		engineOf.Store(t.Name(), e)
		fn(t)
	})
}

// EngineOf returns the engine Run chose for t or the test t runs in;
// SQLite outside Run.
func EngineOf(t testing.TB) Engine {
	name := t.Name()
	for {
		if e, ok := engineOf.Load(name); ok {
			return e.(Engine)
		}
		i := strings.LastIndexByte(name, '/')
		if i < 0 {
			return SQLite
		}
		name = name[:i]
	}
}

// Location returns where a new, empty Tollgate database for t is, on t's
// engine (EngineOf): a file path in t.TempDir(), or a postgres:// URL of
// a schema created for t (synchronous_commit off, for speed) and dropped
// when t ends. Each call gives another database.
func Location(t testing.TB) string {
	t.Helper()
	return LocationIn(t, "")
}

// LocationIn is Location with the SQLite file in dir (the test's own
// temporary directory when dir is empty): beside the keys and config a
// fixture writes there.
func LocationIn(t testing.TB, dir string) string {
	t.Helper()
	if EngineOf(t) == Postgres {
		return NewSchema(t, false)
	}
	if dir == "" {
		dir = t.TempDir()
	}
	return filepath.Join(dir, "tollgate.db")
}

// Main runs the package's tests and then stops the PostgreSQL cluster
// they started, if any: call it from TestMain, os.Exit(storetest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	stopServer()
	return code
}

// skipPostgres reports whether TOLLGATE_SKIP_POSTGRES=1 asks to skip the
// PostgreSQL tests (a quick local run; CI never sets it).
func skipPostgres() bool { return os.Getenv("TOLLGATE_SKIP_POSTGRES") == "1" }
