package upgrade

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// exitStatus carries a child's exit status out (service.ExitCode reads it).
type exitStatus struct{ code int }

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", e.code) }
func (e exitStatus) ExitCode() int { return e.code }

// Exec runs the binary at path with the same arguments as a child of this process (Windows
// has no execve; this process stays the service the manager knows) until it exits or ctx
// ends, which kills it. Its exit status is returned as an error carrying ExitCode.
func Exec(ctx context.Context, path string, args []string) error {
	cmd := exec.CommandContext(ctx, path, args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitStatus{ee.ExitCode()}
	}
	if err != nil {
		return fmt.Errorf("upgrade: start %s: %w", path, err)
	}
	return nil
}
