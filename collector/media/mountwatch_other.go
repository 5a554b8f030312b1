//go:build !linux

package media

import (
	"context"
	"errors"

	"github.com/hashicorp/go-hclog"
)

func watchMountinfo(context.Context, string, hclog.Logger) (<-chan struct{}, error) {
	return nil, errors.New("mountinfo notifications exist only on Linux")
}
