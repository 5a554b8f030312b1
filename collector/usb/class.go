package usb

// ClassName maps an interface's class, subclass and protocol to the InterfaceClasses
// vocabulary of docs/events.md.
func ClassName(class, sub, proto uint8) string {
	switch class {
	case 0x01:
		return "audio"
	case 0x02: // CDC communications
		switch sub {
		case 0x02:
			if proto == 0xff {
				return "rndis" // Microsoft RNDIS as CDC ACM with vendor protocol
			}
			return "cdc-acm"
		case 0x06:
			return "cdc-ecm"
		case 0x0c:
			return "cdc-eem"
		case 0x0d:
			return "cdc-ncm"
		case 0x0e:
			return "cdc-mbim"
		}
		return "cdc"
	case 0x03:
		switch proto {
		case 1:
			return "hid-keyboard"
		case 2:
			return "hid-mouse"
		}
		return "hid"
	case 0x07:
		return "printer"
	case 0x08:
		return "mass-storage"
	case 0x09:
		return "hub"
	case 0x0a:
		return "cdc-data"
	case 0x0e:
		return "video"
	case 0xe0:
		if sub == 0x01 && proto == 0x03 {
			return "rndis"
		}
		return "wireless"
	case 0xef:
		if sub == 0x04 && proto == 0x01 {
			return "rndis" // RNDIS over Ethernet, miscellaneous class
		}
		return "other"
	case 0xff:
		return "vendor-specific"
	}
	return "other"
}
