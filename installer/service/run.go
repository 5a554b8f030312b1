package service

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"

	kservice "github.com/kardianos/service"
)

// ExitCoder is an error that carries the process's exit status (ExitRestart, for one).
type ExitCoder interface {
	error
	ExitCode() int
}

// ExitCode is the exit status for err: 0 for nil, the code of an ExitCoder, else 1.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ec ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 1
}

// Run runs fn as the service called name until the service manager or a signal (SIGINT,
// SIGTERM) asks it to stop, which ends fn's context. Under Windows' service control manager
// and systemd it speaks their protocol through kardianos; from a terminal or the SysV
// supervisor it just runs. When fn returns on its own under a manager, the process exits
// with ExitCode(err), so that the manager restarts it on a failure or ExitRestart.
func Run(name string, fn func(ctx context.Context) error) error {
	if kservice.Interactive() {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return fn(ctx)
	}
	p := &managed{fn: fn}
	svc, err := kservice.New(p, &kservice.Config{Name: name})
	if err != nil {
		return err
	}
	return svc.Run()
}

// managed adapts fn to kardianos' Start/Stop.
type managed struct {
	fn     func(ctx context.Context) error
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

func (p *managed) Start(kservice.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan error, 1)
	go func() {
		err := p.fn(ctx)
		if ctx.Err() == nil {
			// It ended by itself, not because it was asked to stop.
			os.Exit(ExitCode(err))
		}
		p.done <- err
	}()
	return nil
}

func (p *managed) Stop(kservice.Service) error {
	var err error
	p.once.Do(func() {
		p.cancel()
		err = <-p.done
	})
	return err
}
