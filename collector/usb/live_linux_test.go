package usb

import (
	"context"
	"os"
	"testing"

	"github.com/vigilhq/vigil/collector"
)

// On a machine without a USB bus the live source reports no devices instead of failing.
func TestLiveWithoutUSBBus(t *testing.T) {
	if _, err := os.Stat("/sys/bus/usb/devices"); err == nil {
		t.Skip("this machine has a USB bus")
	}
	n := 0
	if err := New(Config{}).Snapshot(context.Background(), func(*collector.Event) { n++ }); err != nil || n != 0 {
		t.Fatalf("snapshot without a USB bus: %d events, error %v", n, err)
	}
}
