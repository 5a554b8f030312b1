package media

import (
	"context"
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/windows"

	"github.com/vigilhq/vigil/internal/event"
)

const ioctlStorageQueryProperty = 0x2d1400

// liveBackend checks every drive letter: GetDriveType, and for fixed drives the storage bus
// type (IOCTL_STORAGE_QUERY_PROPERTY), then the volume label and file system of removable ones.
func (s *Source) liveBackend() (*backend, error) {
	return &backend{Product: event.Windows, List: func(context.Context) ([]Mount, error) {
		mask, err := windows.GetLogicalDrives()
		if err != nil {
			return nil, fmt.Errorf("GetLogicalDrives: %w", err)
		}
		var out []Mount
		for i := 0; i < 26; i++ {
			if mask&(1<<i) == 0 {
				continue
			}
			letter := string(rune('A'+i)) + ":"
			root, _ := windows.UTF16PtrFromString(letter + `\`)
			dt := windows.GetDriveType(root)
			bus := -1
			if dt == driveFixed {
				bus = busType(letter)
			}
			reason := classifyWindowsDrive(dt, bus)
			if reason == "" {
				continue
			}
			var label, fs [windows.MAX_PATH + 1]uint16
			if err := windows.GetVolumeInformation(root, &label[0], uint32(len(label)), nil, nil, nil, &fs[0], uint32(len(fs))); err != nil {
				continue // no medium in the drive: nothing mounted
			}
			out = append(out, Mount{MountPoint: letter + `\`, Device: letter, FsType: windows.UTF16ToString(fs[:]),
				Label: windows.UTF16ToString(label[:]), Reason: reason})
		}
		return out, nil
	}}, nil
}

// busType asks the volume's disk for its STORAGE_BUS_TYPE, or -1.
func busType(letter string) int {
	p, _ := windows.UTF16PtrFromString(`\\.\` + letter)
	h, err := windows.CreateFile(p, 0, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, nil, windows.OPEN_EXISTING, 0, 0)
	if err != nil {
		return -1
	}
	defer windows.CloseHandle(h)
	// STORAGE_PROPERTY_QUERY{PropertyId: StorageDeviceProperty, QueryType: PropertyStandardQuery}
	var query [12]byte
	var desc [1024]byte
	var n uint32
	if err := windows.DeviceIoControl(h, ioctlStorageQueryProperty, &query[0], uint32(len(query)), &desc[0], uint32(len(desc)), &n, nil); err != nil || n < 32 {
		return -1
	}
	// STORAGE_DEVICE_DESCRIPTOR.BusType is the uint32 at offset 28.
	return int(binary.LittleEndian.Uint32(desc[28:32]))
}
