// Package ports picks free loopback ports for servers a test starts
// when their address must be known before they listen (a node's public
// URL, a cluster's routes).
package ports

import (
	"fmt"
	"net"
	"testing"
)

// Free returns a loopback port no one listens on now.
func Free(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeAddr is Free as host:port.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", Free(t))
}
