package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/store/storetest"
)

// A transaction whose BEGIN is deferred to its first statement is still
// one transaction, whatever that first statement is: nothing it wrote is
// seen by others before COMMIT, a rollback leaves nothing, a failed
// statement fails the COMMIT, and read-only stays read-only.
func TestDeferredBeginKeepsTransactions(t *testing.T) {
	storetest.RunOn(t, storetest.Postgres, testDeferredBeginKeepsTransactions)
}

func testDeferredBeginKeepsTransactions(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	db := s.DB()
	if _, err := db.Exec(`CREATE TABLE tx_probe (n BIGINT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		t.Helper()
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM tx_probe`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	firsts := map[string]func(tx *sql.Tx, n int) error{
		"exec with arguments": func(tx *sql.Tx, n int) error {
			_, err := tx.Exec(`INSERT INTO tx_probe (n) VALUES (?)`, n)
			return err
		},
		"prepared statement": func(tx *sql.Tx, n int) error {
			st, err := tx.Prepare(`INSERT INTO tx_probe (n) VALUES (?)`)
			if err != nil {
				return err
			}
			defer st.Close()
			_, err = st.Exec(n)
			return err
		},
		"query": func(tx *sql.Tx, n int) error {
			var got int
			return tx.QueryRow(`INSERT INTO tx_probe (n) VALUES (?) RETURNING n`, n).Scan(&got)
		},
		"exec without arguments": func(tx *sql.Tx, n int) error {
			_, err := tx.Exec(fmt.Sprintf(`INSERT INTO tx_probe (n) VALUES (%d)`, n))
			return err
		},
	}
	n := 0
	for name, first := range firsts {
		t.Run(name, func(t *testing.T) {
			before := count()
			n++
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := first(tx, n); err != nil {
				t.Fatalf("first statement: %v", err)
			}
			if got := count(); got != before {
				t.Fatalf("another connection sees %d rows before COMMIT, want %d: the first statement ran outside the transaction", got, before)
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			if got := count(); got != before {
				t.Fatalf("%d rows after ROLLBACK, want %d", got, before)
			}

			n++
			tx, err = db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := first(tx, n); err != nil {
				t.Fatalf("first statement: %v", err)
			}
			if _, err := tx.Exec(`INSERT INTO tx_probe (n) VALUES (?)`, n); err == nil {
				t.Fatal("a duplicate key was accepted")
			}
			if err := tx.Commit(); err == nil {
				t.Fatal("COMMIT of a transaction with a failed statement succeeded")
			}
			if got := count(); got != before {
				t.Fatalf("%d rows after a failed transaction, want %d", got, before)
			}
		})
	}

	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`INSERT INTO tx_probe (n) VALUES (?)`, 99); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("insert in a read-only transaction: %v, want a read-only refusal", err)
	}
}
