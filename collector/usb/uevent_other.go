//go:build !linux

package usb

import (
	"context"
	"errors"

	"github.com/hashicorp/go-hclog"
)

func watchUevents(context.Context, string, hclog.Logger) (<-chan struct{}, error) {
	return nil, errors.New("uevents exist only on Linux")
}
