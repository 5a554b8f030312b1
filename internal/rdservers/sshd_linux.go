package rdservers

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// SSHD is an OpenSSH server on loopback that a test started, with its own host key and a key
// for root.
type SSHD struct {
	Port int
	// Key is the client's private key; Conf the server's configuration file.
	Key, Conf string
}

// StartSSHD starts sshd on a free loopback port, accepting root with a key made for the test,
// and waits until it listens.
func StartSSHD(t testing.TB) *SSHD {
	t.Helper()
	bin := Need(t, "sshd")
	keygen := Need(t, "ssh-keygen")
	Need(t, "ssh")
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"host", "client"} {
		if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, k)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	pub, err := os.ReadFile(filepath.Join(dir, "client.pub"))
	if err != nil {
		t.Fatal(err)
	}
	auth := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(auth, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	s := &SSHD{Port: FreePort(t), Key: filepath.Join(dir, "client"), Conf: filepath.Join(dir, "sshd_config")}
	conf := fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nAuthorizedKeysFile %s\nPermitRootLogin prohibit-password\n"+
		"PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nGatewayPorts no\nAllowTcpForwarding yes\n"+
		"PidFile %s\nStrictModes no\n", s.Port, filepath.Join(dir, "host"), auth, filepath.Join(dir, "sshd.pid"))
	if err := os.WriteFile(s.Conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	p := Start(t, bin, "-D", "-e", "-f", s.Conf)
	WaitListen(t, p, "127.0.0.1:"+strconv.Itoa(s.Port))
	return s
}

// ClientArgs are the ssh options that reach the server as root with the test's key, without
// touching the user's known hosts, followed by the destination; add a command after them.
func (s *SSHD) ClientArgs() []string {
	return []string{"-p", strconv.Itoa(s.Port), "-i", s.Key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "root@127.0.0.1"}
}

// Reverse runs `ssh -N -R relay:127.0.0.1:target` to the server, as a laptop-farm operator
// would to a relay host, and waits until the forwarded port listens.
func (s *SSHD) Reverse(t testing.TB, relay, target int) *Proc {
	t.Helper()
	args := append([]string{"-N", "-R", fmt.Sprintf("%d:127.0.0.1:%d", relay, target), "-o", "ExitOnForwardFailure=yes"}, s.ClientArgs()...)
	p := Start(t, Need(t, "ssh"), args...)
	WaitListen(t, p, "127.0.0.1:"+strconv.Itoa(relay))
	return p
}
