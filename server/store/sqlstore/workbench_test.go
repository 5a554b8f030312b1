package sqlstore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/vigilhq/vigil/server/store/pgtest"
	"github.com/vigilhq/vigil/server/store/storetest"
)

func TestWorkbenchSQLite(t *testing.T) {
	storetest.RunWorkbench(t, func(t *testing.T) storetest.WorkbenchStore {
		db, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "vigil.db"))
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

func TestWorkbenchPostgres(t *testing.T) {
	storetest.RunWorkbench(t, func(t *testing.T) storetest.WorkbenchStore {
		db, err := OpenPostgres(context.Background(), pgtest.DSN(t))
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}
