//go:build !windows

package upgrade

import (
	"context"
	"fmt"
	"os"
	"syscall"
)

// Exec hands this process over to the binary at path with the same arguments (execve: the
// process, its pid and its place under the service manager stay the same). It returns only
// when that fails.
func Exec(_ context.Context, path string, args []string) error {
	argv := append([]string{path}, args[1:]...)
	if err := syscall.Exec(path, argv, os.Environ()); err != nil {
		return fmt.Errorf("upgrade: start %s: %w", path, err)
	}
	return nil
}
