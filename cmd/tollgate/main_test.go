package main

import (
	"os"
	"testing"

	"github.com/tollgate-dev/tollgate/store/storetest"
)

// TestMain stops the PostgreSQL cluster the tests started, if any. Run as
// tollgate-demo (cli_test.go), the binary is the demo instead.
func TestMain(m *testing.M) {
	runAsDemo()
	os.Exit(storetest.Main(m))
}
