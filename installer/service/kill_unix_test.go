//go:build !windows

package service

import "syscall"

func syscallKill(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

func syscallAlive(pid int) bool { return pid > 0 && syscall.Kill(pid, 0) == nil }
