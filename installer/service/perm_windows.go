package service

import (
	"fmt"

	"golang.org/x/sys/windows"
)

// restrict gives path a protected ACL (nothing inherited) granting full control to SYSTEM and
// the Administrators group alone, owned by Administrators. A directory's entries are inherited
// by what is created in it.
func restrict(path string, dir bool) error {
	inherit := ""
	if dir {
		inherit = "OICI"
	}
	return setACL(path, fmt.Sprintf("O:BAD:P(A;%[1]s;FA;;;SY)(A;%[1]s;FA;;;BA)", inherit))
}

// restrictExecutable lets SYSTEM and Administrators change an installed executable, and
// users run it.
func restrictExecutable(path string) error {
	return setACL(path, "O:BAD:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;GRGX;;;BU)")
}

// setACL sets the owner and the protected DACL of path from an SDDL string.
func setACL(path, sddl string) error {
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		return fmt.Errorf("security descriptor: %w", err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("security descriptor: %w", err)
	}
	owner, _, err := sd.Owner()
	if err != nil {
		return fmt.Errorf("security descriptor: %w", err)
	}
	err = windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION,
		owner, nil, dacl, nil)
	if err != nil {
		return fmt.Errorf("set ACL of %s: %w", path, err)
	}
	return nil
}
