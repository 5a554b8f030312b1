package sqlstore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/vigilhq/vigil/server/store"
	"github.com/vigilhq/vigil/server/store/pgtest"
	"github.com/vigilhq/vigil/server/store/storetest"
)

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "vigil.db"))
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

func TestPostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := OpenPostgres(context.Background(), pgtest.DSN(t))
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}
