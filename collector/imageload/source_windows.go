package imageload

import (
	"context"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/vigilhq/vigil/collector"
)

// maxModules bounds the modules listed for one process.
const maxModules = 8192

// snapshot is Snapshot: modules are listed complete, nothing to wait for.
func (s *Source) snapshot(ctx context.Context, emit collector.Emit, _ bool) error {
	return s.Snapshot(ctx, emit)
}

// Snapshot reports the modules of every running process, once per executable.
func (s *Source) Snapshot(ctx context.Context, emit collector.Emit) error {
	emit = snapshotEmit(emit)
	pids := make([]uint32, 16384)
	var n uint32
	if err := windows.EnumProcesses(pids, &n); err != nil {
		return fmt.Errorf("imageload: list processes: %w", err)
	}
	for _, pid := range pids[:n/4] {
		if ctx.Err() != nil {
			return nil
		}
		if pid > 4 { // 0: idle, 4: System
			s.reportModules(int(pid), emit)
		}
	}
	return nil
}

// report is reportModules: the modules are listed once the process runs, no wait needed.
func (s *Source) report(pid int, _ bool, emit collector.Emit) (again bool) {
	s.reportModules(pid, emit)
	return false
}

// reportModules lists one process's modules (EnumProcessModulesEx), unless its executable was
// reported before, and emits an image_load event per module with its Authenticode signer.
func (s *Source) reportModules(pid int, emit collector.Emit) {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION|windows.PROCESS_VM_READ, false, uint32(pid))
	if err != nil {
		return // gone, or protected
	}
	defer windows.CloseHandle(h)
	var buf [windows.MAX_LONG_PATH]uint16
	size := uint32(len(buf))
	if err := windows.QueryFullProcessImageName(h, 0, &buf[0], &size); err != nil {
		return
	}
	image := windows.UTF16ToString(buf[:size])
	st, err := os.Stat(image)
	if err != nil {
		return
	}
	key, first := s.firstTime(st, image, false)
	if !first {
		return
	}
	mods := make([]windows.Handle, 512)
	for {
		var need uint32
		cb := uint32(len(mods)) * uint32(unsafe.Sizeof(mods[0]))
		if err := windows.EnumProcessModulesEx(h, &mods[0], cb, &need, windows.LIST_MODULES_ALL); err != nil {
			s.log.Debug("modules not listed", "pid", pid, "error", err)
			return
		}
		count := int(need / uint32(unsafe.Sizeof(mods[0])))
		if count <= len(mods) || len(mods) >= maxModules {
			mods = mods[:min(count, len(mods))]
			break
		}
		mods = make([]windows.Handle, min(count, maxModules))
	}
	var libs []string
	for i, m := range mods {
		if i == 0 {
			continue // the executable itself
		}
		if err := windows.GetModuleFileNameEx(h, m, &buf[0], uint32(len(buf))); err != nil {
			continue
		}
		libs = append(libs, windows.UTF16ToString(buf[:]))
	}
	s.read(key, len(libs))
	for _, lib := range libs {
		emit(s.event(pid, image, lib, s.ids.Path(lib).Signer))
	}
}
