// Package pgtest gives tests a PostgreSQL database of their own, on the server that
// VIGIL_TEST_POSTGRES names (.ci/run starts one and sets it). Without it the test skips with a
// message, so `go test ./...` passes on a machine without PostgreSQL.
package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/vigilhq/vigil/internal/event"
)

// EnvVar names the administrative connection string tests create their databases through.
const EnvVar = "VIGIL_TEST_POSTGRES"

// DSN creates an empty database for the test, dropped when it ends, and returns its connection
// string. It skips the test when VIGIL_TEST_POSTGRES is unset.
func DSN(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvVar)
	if admin == "" {
		t.Skipf("%s is not set: PostgreSQL tests skipped (.ci/run starts PostgreSQL and sets it)", EnvVar)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", EnvVar, err)
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("%s: %v", EnvVar, err)
	}
	defer db.Close()
	name := "vigil_test_" + strings.ToLower(event.NewID())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", admin)
		if err != nil {
			t.Errorf("drop test database: %v", err)
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return fmt.Sprint(u)
}
