package outboxtest

import (
	"testing"

	"github.com/vigilhq/vigil/server/forward"
)

func TestMemory(t *testing.T) {
	Run(t, func(*testing.T) forward.Outbox { return &Memory{} })
}
