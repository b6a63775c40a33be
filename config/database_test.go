package config

import (
	"strings"
	"testing"
)

// withDatabase replaces baseConfig's database line (line 2) with lines.
func withDatabase(lines string) string {
	return strings.Replace(baseConfig, "database: /var/lib/tollgate/tollgate.db\n", lines, 1)
}

func TestParseDatabase(t *testing.T) {
	lookup := env(map[string]string{"WEBHOOK_SECRET": "w", "PGPASSWORD": "pg-s3cret",
		"TOLLGATE_DATABASE_URL": "postgresql://tg:pg-s3cret@db.internal:6432/tollgate?sslmode=verify-full"})
	tests := []struct {
		name, yaml, want string
		warn             string
	}{
		{"a SQLite file, relative to the config", "database: state/tollgate.db\n", "/etc/tollgate/state/tollgate.db", ""},
		{"a postgres URL, password from the environment", "database: postgres://tg:${PGPASSWORD}@db.internal/tollgate?sslmode=require\n",
			"postgres://tg:pg-s3cret@db.internal/tollgate?sslmode=require", ""},
		{"the mapping form with a dsn", "database:\n  driver: postgres\n  dsn: ${TOLLGATE_DATABASE_URL}\n",
			"postgresql://tg:pg-s3cret@db.internal:6432/tollgate?sslmode=verify-full", ""},
		{"the mapping form with a SQLite path", "database: {driver: sqlite, path: tollgate.db}\n", "/etc/tollgate/tollgate.db", ""},
		{"a password written in the file", "database: postgres://tg:hunter2@db.internal/tollgate\n",
			"postgres://tg:hunter2@db.internal/tollgate", "database: database password written in the config file; use ${VAR}"},
		{"a unix socket host", "database: postgres:///tollgate?host=/run/postgresql\n", "postgres:///tollgate?host=/run/postgresql", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, warnings := mustParse(t, "/etc/tollgate/tollgate.yml", withDatabase(tt.yaml), lookup)
			if cfg.Database != tt.want {
				t.Errorf("database = %q, want %q", cfg.Database, tt.want)
			}
			var got []string
			for _, w := range warnings {
				got = append(got, w.String())
			}
			if all := strings.Join(got, "\n"); tt.warn == "" && all != "" || !strings.Contains(all, tt.warn) {
				t.Errorf("warnings %q, want %q", all, tt.warn)
			}
		})
	}
}

func TestParseDatabaseRefusals(t *testing.T) {
	lookup := env(map[string]string{"WEBHOOK_SECRET": "w", "BAD_URL": "host=db.internal password=pg-s3cret"})
	tests := []struct{ name, yaml, want string }{
		{"unknown driver", "database: {driver: mysql, dsn: x}\n", `tollgate.yml:2: database.driver: unknown driver "mysql": want postgres or sqlite`},
		{"no driver", "database: {dsn: postgres://db/tollgate}\n", "tollgate.yml:2: database.driver: required key is missing (postgres or sqlite)"},
		{"postgres without a dsn", "database: {driver: postgres}\n", "tollgate.yml:2: database.dsn: required key is missing"},
		{"postgres named by path", "database: {driver: postgres, path: x.db, dsn: postgres://db/t}\n", "tollgate.yml:2: database.path: a postgres database is named by dsn, not path"},
		{"sqlite named by dsn", "database: {driver: sqlite, path: x.db, dsn: postgres://db/t}\n", "tollgate.yml:2: database.dsn: a sqlite database is named by path, not dsn"},
		{"a dsn that is not a URL", "database: {driver: postgres, dsn: \"${BAD_URL}\"}\n", "tollgate.yml:2: database.dsn: want a postgres:// URL"},
		{"a URL without a host", "database: postgres:///tollgate\n", "tollgate.yml:2: database: PostgreSQL URL does not parse or names no host"},
		{"unknown key in the mapping", "database: {driver: sqlite, path: x.db, file: y}\n", `tollgate.yml:2: database.file: unknown key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse("tollgate.yml", []byte(withDatabase(tt.yaml)), lookup)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "pg-s3cret") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}
