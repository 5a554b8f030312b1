package media

// Windows drive types (GetDriveType) and storage bus types (STORAGE_BUS_TYPE) used to classify
// drive letters; plain constants so the classification is tested on every OS.
const (
	driveRemovable = 2
	driveFixed     = 3
	driveCDROM     = 5

	busTypeUsb = 7
	busTypeSd  = 12
	busTypeMmc = 13
)

// classifyWindowsDrive decides whether a drive letter is removable media: DRIVE_REMOVABLE and
// DRIVE_CDROM always, DRIVE_FIXED when its disk is on a USB, SD or MMC bus (busType -1 when
// unknown).
func classifyWindowsDrive(driveType uint32, busType int) string {
	switch driveType {
	case driveRemovable:
		return "removable"
	case driveCDROM:
		return "optical"
	case driveFixed:
		switch busType {
		case busTypeUsb:
			return "usb"
		case busTypeSd, busTypeMmc:
			return "sd-card"
		}
	}
	return ""
}
