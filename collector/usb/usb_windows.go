package usb

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/windows"

	"github.com/vigilhq/vigil/internal/event"
)

var (
	// DEVPKEY_Device_BusReportedDeviceDesc: the product string the device itself reports.
	devpkeyBusReportedDesc = windows.DEVPROPKEY{
		FmtID: windows.DEVPROPGUID{Data1: 0x540b947e, Data2: 0x8b40, Data3: 0x45bc, Data4: [8]byte{0xa8, 0xa2, 0x6a, 0x0b, 0x89, 0x4c, 0xbd, 0xa2}},
		PID:   4,
	}
	// DEVPKEY_Device_Parent: the parent node's instance ID.
	devpkeyParent = windows.DEVPROPKEY{
		FmtID: windows.DEVPROPGUID{Data1: 0x4340a6c5, Data2: 0x93fa, Data3: 0x4706, Data4: [8]byte{0x97, 0x2c, 0x7b, 0x64, 0x80, 0x08, 0xa5, 0xa7}},
		PID:   8,
	}
)

// liveBackend enumerates present devices of the USB enumerator through SetupAPI.
func (s *Source) liveBackend() (*backend, error) {
	return &backend{Product: event.Windows, List: func(context.Context) ([]Device, error) {
		nodes, err := setupAPINodes("USB")
		if err != nil {
			return nil, err
		}
		return DevicesFromPnp(nodes), nil
	}}, nil
}

func setupAPINodes(enumerator string) ([]PnpDevice, error) {
	set, err := windows.SetupDiGetClassDevsEx(nil, enumerator, 0, windows.DIGCF_ALLCLASSES|windows.DIGCF_PRESENT, 0, "")
	if err != nil {
		return nil, fmt.Errorf("SetupDiGetClassDevsEx(%s): %w", enumerator, err)
	}
	defer set.Close()
	var out []PnpDevice
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
		n := PnpDevice{InstanceID: id}
		n.Description = regString(set, data, windows.SPDRP_DEVICEDESC)
		n.ClassName = regString(set, data, windows.SPDRP_CLASS)
		n.Manufacturer = regString(set, data, windows.SPDRP_MFG)
		n.Service = regString(set, data, windows.SPDRP_SERVICE)
		n.HardwareIDs = regStrings(set, data, windows.SPDRP_HARDWAREID)
		n.CompatibleIDs = regStrings(set, data, windows.SPDRP_COMPATIBLEIDS)
		if v, err := windows.SetupDiGetDeviceProperty(set, data, &devpkeyBusReportedDesc); err == nil {
			n.BusReportedDesc, _ = v.(string)
		}
		if v, err := windows.SetupDiGetDeviceProperty(set, data, &devpkeyParent); err == nil {
			n.Parent, _ = v.(string)
		}
		out = append(out, n)
	}
	return out, nil
}

func regString(set windows.DevInfo, data *windows.DevInfoData, p windows.SPDRP) string {
	v, err := set.DeviceRegistryProperty(data, p)
	if err != nil {
		return ""
	}
	s, _ := v.(string)
	return s
}

func regStrings(set windows.DevInfo, data *windows.DevInfoData, p windows.SPDRP) []string {
	v, err := set.DeviceRegistryProperty(data, p)
	if err != nil {
		return nil
	}
	switch t := v.(type) {
	case []string:
		return t
	case string:
		return []string{t}
	}
	return nil
}
