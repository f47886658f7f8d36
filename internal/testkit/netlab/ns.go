// Package netlab builds emulated networks on this machine for tests and
// benchmarks: network namespaces, each joined to the host's by a link
// whose delay, jitter, loss (random or bursty), outages and filters are
// applied in user space (this kernel has no netem), and whose rate is
// capped by the kernel's tbf. Nothing routes out of a namespace: it
// reaches only the lab's server address.
//
// Making namespaces and devices needs CAP_NET_ADMIN (root, as CI runs).
package netlab

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strings"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"golang.org/x/sys/unix"
)

// Namespace is a network namespace of the lab.
type Namespace struct {
	Name string
	fd   int // open /run/netns/<name>
}

// ip runs the ip command.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// tc runs the tc command.
func tc(args ...string) error {
	out, err := exec.Command("tc", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("tc %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// newNamespace makes a namespace with its loopback up.
func newNamespace(name string) (*Namespace, error) {
	ip("netns", "del", name) // left by a killed run
	if err := ip("netns", "add", name); err != nil {
		return nil, fmt.Errorf("a network namespace needs CAP_NET_ADMIN (run as root, as CI does): %w", err)
	}
	fd, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		ip("netns", "del", name)
		return nil, err
	}
	ns := &Namespace{Name: name, fd: fd}
	if err := ip("-n", name, "link", "set", "lo", "up"); err != nil {
		ns.close()
		return nil, err
	}
	return ns, nil
}

func (ns *Namespace) close() {
	unix.Close(ns.fd)
	ip("netns", "del", ns.Name)
}

// Do runs f on an OS thread inside the namespace. Sockets f creates stay
// in the namespace after it returns, whatever thread then uses them; f
// must not hand work to other goroutines that should run inside it.
func (ns *Namespace) Do(f func() error) error {
	runtime.LockOSThread()
	self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer unix.Close(self)
	if err := unix.Setns(ns.fd, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter %s: %w", ns.Name, err)
	}
	ferr := f()
	if err := unix.Setns(self, unix.CLONE_NEWNET); err != nil {
		// The thread stays locked: it exits with its goroutine instead of
		// serving others from the wrong namespace.
		return fmt.Errorf("leave %s: %w", ns.Name, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// DialContext dials from inside the namespace (for HTTP and WebSocket
// clients: net/http's Transport.DialContext).
func (ns *Namespace) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := ns.Do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Net is the namespace's network for pion (webrtc.SettingEngine.SetNet):
// its interfaces, and sockets opened inside it.
func (ns *Namespace) Net() (transport.Net, error) {
	var n *stdnet.Net
	err := ns.Do(func() (err error) {
		n, err = stdnet.NewNet()
		return err
	})
	if err != nil {
		return nil, err
	}
	return &nsNet{Net: n, ns: ns}, nil
}

// nsNet opens every socket inside its namespace.
type nsNet struct {
	*stdnet.Net
	ns *Namespace
}

func (n *nsNet) ListenPacket(network, address string) (c net.PacketConn, err error) {
	err = n.ns.Do(func() (err error) { c, err = n.Net.ListenPacket(network, address); return err })
	return c, err
}

func (n *nsNet) ListenUDP(network string, laddr *net.UDPAddr) (c transport.UDPConn, err error) {
	err = n.ns.Do(func() (err error) { c, err = n.Net.ListenUDP(network, laddr); return err })
	return c, err
}

func (n *nsNet) ListenTCP(network string, laddr *net.TCPAddr) (l transport.TCPListener, err error) {
	err = n.ns.Do(func() (err error) { l, err = n.Net.ListenTCP(network, laddr); return err })
	return l, err
}

func (n *nsNet) Dial(network, address string) (c net.Conn, err error) {
	err = n.ns.Do(func() (err error) { c, err = n.Net.Dial(network, address); return err })
	return c, err
}

func (n *nsNet) DialUDP(network string, laddr, raddr *net.UDPAddr) (c transport.UDPConn, err error) {
	err = n.ns.Do(func() (err error) { c, err = n.Net.DialUDP(network, laddr, raddr); return err })
	return c, err
}

func (n *nsNet) DialTCP(network string, laddr, raddr *net.TCPAddr) (c transport.TCPConn, err error) {
	err = n.ns.Do(func() (err error) { c, err = n.Net.DialTCP(network, laddr, raddr); return err })
	return c, err
}

func (n *nsNet) CreateDialer(d *net.Dialer) transport.Dialer {
	return nsDialer{d: d, ns: n.ns}
}

func (n *nsNet) CreateListenConfig(lc *net.ListenConfig) transport.ListenConfig {
	return nsListenConfig{lc: lc, ns: n.ns}
}

type nsDialer struct {
	d  *net.Dialer
	ns *Namespace
}

func (d nsDialer) Dial(network, address string) (c net.Conn, err error) {
	err = d.ns.Do(func() (err error) { c, err = d.d.Dial(network, address); return err })
	return c, err
}

type nsListenConfig struct {
	lc *net.ListenConfig
	ns *Namespace
}

func (l nsListenConfig) Listen(ctx context.Context, network, address string) (ln net.Listener, err error) {
	err = l.ns.Do(func() (err error) { ln, err = l.lc.Listen(ctx, network, address); return err })
	return ln, err
}

func (l nsListenConfig) ListenPacket(ctx context.Context, network, address string) (c net.PacketConn, err error) {
	err = l.ns.Do(func() (err error) { c, err = l.lc.ListenPacket(ctx, network, address); return err })
	return c, err
}
