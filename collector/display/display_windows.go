package display

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"

	"github.com/vigilhq/vigil/internal/event"
)

// liveBackend lists the present monitors (SetupAPI, enumerator DISPLAY) and reads each one's
// EDID from its device key, HKLM\SYSTEM\CurrentControlSet\Enum\DISPLAY\<PnPID>\<instance>\
// Device Parameters\EDID.
func (s *Source) liveBackend() (*backend, error) {
	return &backend{Product: event.Windows, List: func(context.Context) ([]Display, error) {
		set, err := windows.SetupDiGetClassDevsEx(nil, "DISPLAY", 0, windows.DIGCF_ALLCLASSES|windows.DIGCF_PRESENT, 0, "")
		if err != nil {
			return nil, fmt.Errorf("SetupDiGetClassDevsEx(DISPLAY): %w", err)
		}
		defer set.Close()
		var out []Display
		for i := 0; ; i++ {
			data, err := set.EnumDeviceInfo(i)
			if err != nil {
				if errors.Is(err, windows.ERROR_NO_MORE_ITEMS) {
					break
				}
				return nil, fmt.Errorf("SetupDiEnumDeviceInfo(%d): %w", i, err)
			}
			id, err := set.DeviceInstanceID(data)
			if err != nil {
				continue
			}
			h, err := set.OpenDevRegKey(data, windows.DICS_FLAG_GLOBAL, 0, windows.DIREG_DEV, windows.KEY_READ)
			if err != nil {
				out = append(out, Display{Connector: id, Err: fmt.Errorf("open device key: %w", err)})
				continue
			}
			k := registry.Key(h)
			raw, _, err := k.GetBinaryValue("EDID")
			k.Close()
			if err != nil {
				out = append(out, Display{Connector: id, Err: fmt.Errorf("read EDID value: %w", err)})
				continue
			}
			out = append(out, FromEDID(id, raw))
		}
		return out, nil
	}}, nil
}
