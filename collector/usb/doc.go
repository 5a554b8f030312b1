// Package usb is the USB device collector: it reports every USB device (usb_device events, see
// docs/events.md) present when it starts, then devices plugged in or removed. It reads Linux
// sysfs (with netlink uevents for hotplug), macOS ioreg text and Windows SetupAPI; the parsers for
// each OS's output are plain files, so saved dumps (Config.SysfsRoot, Config.IoregFile,
// Config.WindowsDevicesFile) are read the same way on any OS.
package usb
