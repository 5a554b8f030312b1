// Package stick mounts a file system on a loop device for tests, standing for a USB stick:
// vfat where the kernel has it, else NTFS through ntfs-3g (which the kernel shows as fuseblk),
// the file-system types the agent counts as removable wherever they are mounted. Linux only;
// a test that cannot mount one here is skipped (or failed, as its caller decides).
package stick
