package anchor_test

import (
	"os"
	"testing"

	"github.com/tollgate-dev/tollgate/store/storetest"
)

// TestMain stops the PostgreSQL cluster the tests started, if any.
func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }
