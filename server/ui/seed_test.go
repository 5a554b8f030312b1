package ui

import (
	"context"
	"time"

	"github.com/vigilhq/vigil/server/store"
	"github.com/vigilhq/vigil/server/store/storetest"
)

func seedQueue(st store.Store) ([]string, error) { return seedQueueN(st, 10000, 10) }

func seedQueueN(st store.Store, hosts, per int) ([]string, error) {
	return storetest.SeedQueue(context.Background(), st, hosts, per, time.Now().UTC())
}
