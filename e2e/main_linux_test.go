package e2e

import (
	"fmt"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if s := Summary(); s != "" {
		fmt.Print(s)
	}
	Cleanup()
	os.Exit(code)
}
