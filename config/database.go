package config

import (
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"
)

// database reads the database key, which names where the store lives:
//
//	database: /var/lib/tollgate/tollgate.db             # SQLite (relative to the config file)
//	database: postgres://tollgate:${PGPASSWORD}@db/tollgate?sslmode=verify-full
//	database: {driver: postgres, dsn: "${TOLLGATE_DATABASE_URL}"}
//	database: {driver: sqlite, path: tollgate.db}
//
// and returns the store's location: a file path, or a postgres:// URL.
// ${VAR} expands in every form, so a password stays out of the file; a
// password written into the file itself draws a warning, like any secret.
// Messages never repeat a URL, which may hold a password.
func (d *decoder) database(top *section) string {
	e, ok := top.require("database")
	if !ok {
		return ""
	}
	n := d.node(e.val)
	if n == nil {
		return ""
	}
	if n.Kind == yaml.MappingNode {
		return d.databaseMapping(d.section(e.path, e.key.Line, e.val, "driver", "path", "dsn"))
	}
	v, ok := d.stringValue(e.path, e.val)
	if !ok {
		return ""
	}
	if isPostgresURL(v) {
		return d.postgresURL(e, v)
	}
	return d.filePath(top, "database", fileRef{created: true})
}

// databaseMapping reads the {driver, path | dsn} form.
func (d *decoder) databaseMapping(s *section) string {
	driver, ok := s.str("driver")
	if !ok {
		if !s.has("driver") {
			d.errorf(s.line, join(s.path, "driver"), "required key is missing (postgres or sqlite)")
		}
		return ""
	}
	switch driver {
	case "postgres":
		if s.has("path") {
			d.errorf(s.lineOf("path"), join(s.path, "path"), "a postgres database is named by dsn, not path")
		}
		e, ok := s.require("dsn")
		if !ok {
			return ""
		}
		v, ok := d.stringValue(e.path, e.val)
		if !ok {
			return ""
		}
		if !isPostgresURL(v) {
			d.errorf(e.val.Line, e.path, "want a postgres:// URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=…)")
			return ""
		}
		return d.postgresURL(e, v)
	case "sqlite":
		if s.has("dsn") {
			d.errorf(s.lineOf("dsn"), join(s.path, "dsn"), "a sqlite database is named by path, not dsn")
		}
		if _, ok := s.require("path"); !ok {
			return ""
		}
		return d.filePath(s, "path", fileRef{created: true})
	default:
		d.errorf(s.lineOf("driver"), join(s.path, "driver"), "unknown driver %q: want postgres or sqlite", driver)
		return ""
	}
}

// postgresURL checks a postgres:// URL without ever quoting it.
func (d *decoder) postgresURL(e entry, v string) string {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" && u.Query().Get("host") == "" {
		d.errorf(e.val.Line, e.path, "PostgreSQL URL does not parse or names no host (want postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=…)")
		return ""
	}
	_, inUser := u.User.Password()
	if (inUser || u.Query().Has("password")) && e.val.Kind == yaml.ScalarNode && !strings.Contains(e.val.Value, "${") {
		d.warnf(e.val.Line, e.path, "database password written in the config file; use ${VAR} so it stays out of the file")
	}
	return v
}

// isPostgresURL reports whether v names a PostgreSQL database (as the
// store decides: store.IsPostgres).
func isPostgresURL(v string) bool {
	l := strings.ToLower(v)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}
