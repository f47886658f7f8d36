package netlab

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Lab is the host's side of the emulated networks: one server address,
// on a device of its own, and the links to each namespace.
type Lab struct {
	// ServerIP is the address a server under test listens on; Iface is
	// its device (the server's ICE interface). SecondIP is another
	// address of the server's, reachable from every namespace (a TURN
	// relay on port 443 beside HTTPS on the first).
	ServerIP, SecondIP, Iface string
	prefix                    string
	net                       int // third octet of the lab's addresses

	mu    sync.Mutex
	links []*Link
}

// New makes a lab. Names and addresses derive from the process id, so
// test binaries running at once do not collide.
func New() (*Lab, error) {
	pid := os.Getpid()
	l := &Lab{prefix: fmt.Sprintf("pl%04x", pid&0xffff), net: pid%250 + 1}
	l.ServerIP = fmt.Sprintf("10.200.%d.1", l.net)
	l.SecondIP = fmt.Sprintf("10.200.%d.2", l.net)
	l.Iface = l.prefix + "s"
	ip("link", "del", l.Iface) // left by a killed run
	if err := ip("link", "add", l.Iface, "type", "veth", "peer", "name", l.prefix+"t"); err != nil {
		return nil, fmt.Errorf("a lab needs CAP_NET_ADMIN (run as root, as CI does): %w", err)
	}
	// No IPv6 link-local addresses: made a moment after the link is up,
	// they reach browsers outside the lab as a network change.
	for _, args := range [][]string{{"link", "set", l.Iface, "addrgenmode", "none"}, {"link", "set", l.prefix + "t", "addrgenmode", "none"},
		{"addr", "add", l.ServerIP + "/32", "dev", l.Iface}, {"addr", "add", l.SecondIP + "/32", "dev", l.Iface}, {"link", "set", l.Iface, "up"}, {"link", "set", l.prefix + "t", "up"}} {
		if err := ip(args...); err != nil {
			ip("link", "del", l.Iface)
			return nil, err
		}
	}
	return l, nil
}

// Close removes every link, namespace and device of the lab.
func (l *Lab) Close() {
	l.mu.Lock()
	links := l.links
	l.links = nil
	l.mu.Unlock()
	for _, k := range links {
		k.close()
	}
	ip("link", "del", l.Iface)
}

// GuestIface is the name of a namespace's link device (what a client
// there gathers ICE candidates on).
const GuestIface = "pl0"

// Link joins one namespace to the host. Up is the direction from the
// namespace to the server, Down the other.
type Link struct {
	NS *Namespace
	// IP is the namespace's address.
	IP string

	host, guest *os.File
	hostName    string
	Up, Down    *Direction
	wg          sync.WaitGroup
}

// AddLink makes a namespace joined to the host by a link impaired as
// up and down say (from the namespace, towards it).
func (l *Lab) AddLink(up, down Profile) (*Link, error) {
	l.mu.Lock()
	n := len(l.links) + 1
	l.mu.Unlock()
	if n > 250 {
		return nil, errors.New("netlab: at most 250 links")
	}
	k := &Link{IP: fmt.Sprintf("10.201.%d.%d", l.net, n+1), hostName: fmt.Sprintf("%sh%d", l.prefix, n)}
	ns, err := newNamespace(fmt.Sprintf("%sn%d", l.prefix, n))
	if err != nil {
		return nil, err
	}
	k.NS = ns
	fail := func(err error) (*Link, error) {
		k.close()
		return nil, err
	}
	if k.host, err = openTUN(k.hostName); err != nil {
		return fail(err)
	}
	if err := ns.Do(func() (err error) { k.guest, err = openTUN(GuestIface); return err }); err != nil {
		return fail(err)
	}
	for _, args := range [][]string{
		{"link", "set", k.hostName, "addrgenmode", "none"},
		{"link", "set", k.hostName, "up"},
		{"route", "add", k.IP + "/32", "dev", k.hostName, "src", l.ServerIP},
		{"-n", ns.Name, "addr", "add", k.IP + "/32", "dev", GuestIface},
		{"-n", ns.Name, "link", "set", GuestIface, "addrgenmode", "none"},
		{"-n", ns.Name, "link", "set", GuestIface, "up"},
		// The only routes out of the namespace: to the server's addresses.
		{"-n", ns.Name, "route", "add", l.ServerIP + "/32", "dev", GuestIface, "src", k.IP},
		{"-n", ns.Name, "route", "add", l.SecondIP + "/32", "dev", GuestIface, "src", k.IP},
	} {
		if err := ip(args...); err != nil {
			return fail(err)
		}
	}
	k.Up, k.Down = newDirection(up), newDirection(down)
	if err := k.applyRates(); err != nil {
		return fail(err)
	}
	k.wg.Add(4)
	go k.Up.read(k.guest, &k.wg)
	go k.Up.write(k.host, &k.wg)
	go k.Down.read(k.host, &k.wg)
	go k.Down.write(k.guest, &k.wg)
	l.mu.Lock()
	l.links = append(l.links, k)
	l.mu.Unlock()
	return k, nil
}

// SetProfiles changes both directions' impairments.
func (k *Link) SetProfiles(up, down Profile) error {
	k.Up.set(up)
	k.Down.set(down)
	return k.applyRates()
}

// applyRates caps each direction's rate with tbf on the device that
// sends that way: the host's device for Down, the namespace's for Up.
func (k *Link) applyRates() error {
	for _, d := range []struct {
		kbps int
		args []string
	}{{k.Down.profile().RateKbps, []string{"dev", k.hostName}}, {k.Up.profile().RateKbps, []string{"-n", k.NS.Name, "dev", GuestIface}}} {
		netns, dev := []string{}, d.args
		if d.args[0] == "-n" {
			netns, dev = d.args[:2], d.args[2:]
		}
		tc(append(append(append([]string{}, netns...), "qdisc", "del"), append(dev, "root")...)...)
		if d.kbps <= 0 {
			continue
		}
		// A burst of 10 ms at the rate (at least two full packets) and a
		// queue of 100 ms: a narrow link as a home router makes one.
		burst := max(d.kbps*10/8, 3000)
		args := append(append(append([]string{}, netns...), "qdisc", "add"), dev...)
		args = append(args, "root", "tbf", "rate", fmt.Sprintf("%dkbit", d.kbps), "burst", fmt.Sprint(burst), "latency", "100ms")
		if err := tc(args...); err != nil {
			return err
		}
	}
	return nil
}

// Renumber moves the namespace to a new address (a phone changing
// network): the old one stops working at once.
func (k *Link) Renumber(lab *Lab) (string, error) {
	var a, b, c, d int
	fmt.Sscanf(k.IP, "%d.%d.%d.%d", &a, &b, &c, &d)
	next := fmt.Sprintf("10.%d.%d.%d", b+1, c, d) // 10.202…, 10.203…
	for _, args := range [][]string{
		{"route", "del", k.IP + "/32", "dev", k.hostName},
		{"route", "add", next + "/32", "dev", k.hostName, "src", lab.ServerIP},
		{"-n", k.NS.Name, "addr", "add", next + "/32", "dev", GuestIface},
		{"-n", k.NS.Name, "addr", "del", k.IP + "/32", "dev", GuestIface},
		{"-n", k.NS.Name, "route", "replace", lab.ServerIP + "/32", "dev", GuestIface, "src", next},
		{"-n", k.NS.Name, "route", "replace", lab.SecondIP + "/32", "dev", GuestIface, "src", next},
	} {
		if err := ip(args...); err != nil {
			return "", err
		}
	}
	k.IP = next
	return next, nil
}

// Outage drops everything both ways for d.
func (k *Link) Outage(d time.Duration) {
	until := time.Now().Add(d).UnixNano()
	k.Up.outageUntil.Store(until)
	k.Down.outageUntil.Store(until)
}

func (k *Link) close() {
	if k.host != nil {
		k.host.Close()
	}
	if k.guest != nil {
		k.guest.Close()
	}
	if k.Up != nil {
		k.Up.stop()
		k.Down.stop()
	}
	k.wg.Wait()
	if k.NS != nil {
		k.NS.close()
	}
}

// openTUN opens a new TUN device (IP packets, no header) in the calling
// thread's namespace; it goes away when the file is closed.
func openTUN(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tun %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// Profile is one direction's impairment.
type Profile struct {
	// Delay is added to every packet; Jitter adds a uniform ±Jitter on
	// top (packets then overtake each other, as on a real path).
	Delay, Jitter time.Duration
	// Loss drops packets at random, 0..1.
	Loss float64
	// Burst, when set, drops in bursts (Gilbert–Elliott) instead.
	Burst *GilbertElliott
	// Every, when set, drops every Every-th packet instead: a loss
	// whose pattern a test knows.
	Every int
	// RateKbps caps the rate (kernel tbf, 100 ms queue); 0: none.
	RateKbps int
	// OnlyTCP443 lets through only TCP to or from port 443 (a locked-down
	// office network); everything else is dropped.
	OnlyTCP443 bool
}

// GilbertElliott is a two-state loss model: in the good state packets
// are lost with LossGood, in the bad one with LossBad; each packet moves
// from good to bad with probability P and back with R. Mean loss is
// (R·LossGood + P·LossBad)/(P+R); mean burst length about 1/R.
type GilbertElliott struct {
	P, R, LossGood, LossBad float64
}

// Counts are what a direction did.
type Counts struct {
	Packets, Lost, OutageDrops, Filtered uint64
}

// Direction is one way of a link: packets are read, maybe dropped, held
// for their delay and written on.
type Direction struct {
	mu      sync.Mutex
	prof    Profile
	bad     bool   // Gilbert–Elliott state
	count   uint64 // packets seen, for Profile.Every
	rng     *rand.Rand
	queue   pktHeap
	seq     uint64
	wake    chan struct{}
	done    chan struct{}
	stopped atomic.Bool

	outageUntil                          atomic.Int64
	packets, lost, outageDrops, filtered atomic.Uint64
}

func newDirection(p Profile) *Direction {
	return &Direction{prof: p, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7)),
		wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (d *Direction) set(p Profile) {
	d.mu.Lock()
	d.prof = p
	d.mu.Unlock()
}

func (d *Direction) profile() Profile {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.prof
}

// Counts returns the direction's counters so far.
func (d *Direction) Counts() Counts {
	return Counts{Packets: d.packets.Load(), Lost: d.lost.Load(), OutageDrops: d.outageDrops.Load(), Filtered: d.filtered.Load()}
}

func (d *Direction) stop() {
	if d.stopped.CompareAndSwap(false, true) {
		close(d.done)
	}
}

// read takes packets from src until it closes.
func (d *Direction) read(src *os.File, wg *sync.WaitGroup) {
	defer wg.Done()
	defer d.stop()
	buf := make([]byte, 65536)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		d.packets.Add(1)
		now := time.Now()
		if now.UnixNano() < d.outageUntil.Load() {
			d.outageDrops.Add(1)
			continue
		}
		d.mu.Lock()
		p := d.prof
		if p.OnlyTCP443 && !tcp443(buf[:n]) {
			d.mu.Unlock()
			d.filtered.Add(1)
			continue
		}
		if d.drop(&p) {
			d.mu.Unlock()
			d.lost.Add(1)
			continue
		}
		at := now.Add(p.Delay)
		if p.Jitter > 0 {
			at = at.Add(time.Duration(d.rng.Int64N(int64(2*p.Jitter+1))) - p.Jitter)
		}
		d.seq++
		heap.Push(&d.queue, pkt{at: at, seq: d.seq, b: append([]byte(nil), buf[:n]...)})
		d.mu.Unlock()
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}

// drop decides one packet's fate. Called with d.mu held.
func (d *Direction) drop(p *Profile) bool {
	if p.Every > 0 {
		d.count++
		return d.count%uint64(p.Every) == 0
	}
	if g := p.Burst; g != nil {
		if d.bad {
			d.bad = d.rng.Float64() >= g.R
		} else {
			d.bad = d.rng.Float64() < g.P
		}
		if d.bad {
			return d.rng.Float64() < g.LossBad
		}
		return d.rng.Float64() < g.LossGood
	}
	return p.Loss > 0 && d.rng.Float64() < p.Loss
}

// write sends queued packets on dst when their time comes.
func (d *Direction) write(dst *os.File, wg *sync.WaitGroup) {
	defer wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		d.mu.Lock()
		var due []pkt
		now := time.Now()
		for len(d.queue) > 0 && !d.queue[0].at.After(now) {
			due = append(due, heap.Pop(&d.queue).(pkt))
		}
		wait := time.Hour
		if len(d.queue) > 0 {
			wait = d.queue[0].at.Sub(now)
		}
		d.mu.Unlock()
		for _, p := range due {
			dst.Write(p.b) // a full device queue drops, as a router would
		}
		timer.Reset(wait)
		select {
		case <-d.done:
			return
		case <-d.wake:
		case <-timer.C:
		}
	}
}

// tcp443 reports whether an IPv4 packet is TCP to or from port 443.
func tcp443(b []byte) bool {
	if len(b) < 20 || b[0]>>4 != 4 || b[9] != unix.IPPROTO_TCP {
		return false
	}
	h := int(b[0]&0x0f) * 4
	if len(b) < h+4 {
		return false
	}
	return binary.BigEndian.Uint16(b[h:]) == 443 || binary.BigEndian.Uint16(b[h+2:]) == 443
}

type pkt struct {
	at  time.Time
	seq uint64
	b   []byte
}

// pktHeap orders packets by release time, then arrival.
type pktHeap []pkt

func (h pktHeap) Len() int { return len(h) }
func (h pktHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h pktHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pktHeap) Push(x any)   { *h = append(*h, x.(pkt)) }
func (h *pktHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	*h = old[:len(old)-1]
	return p
}

// Preset is a named network condition, one profile per direction (Up:
// from the participant).
type Preset struct {
	Name, About string
	Up, Down    Profile
}

// Presets are the conditions the network benchmark and tests use.
var Presets = []Preset{
	{"clean", "no impairment", Profile{}, Profile{}},
	{"loss2", "2 % random loss each way, 100 ms RTT, ±20 ms jitter",
		Profile{Delay: 50 * time.Millisecond, Jitter: 20 * time.Millisecond, Loss: 0.02},
		Profile{Delay: 50 * time.Millisecond, Jitter: 20 * time.Millisecond, Loss: 0.02}},
	{"loss2-nodelay", "2 % random loss each way, no added delay",
		Profile{Loss: 0.02}, Profile{Loss: 0.02}},
	{"burst5", "5 % loss in bursts each way (Gilbert–Elliott, mean burst 3 packets), 60 ms RTT",
		Profile{Delay: 30 * time.Millisecond, Burst: &GilbertElliott{P: 0.0175, R: 0.333, LossBad: 1}},
		Profile{Delay: 30 * time.Millisecond, Burst: &GilbertElliott{P: 0.0175, R: 0.333, LossBad: 1}}},
	{"every10", "every tenth packet lost each way, 40 ms RTT",
		Profile{Delay: 20 * time.Millisecond, Every: 10}, Profile{Delay: 20 * time.Millisecond, Every: 10}},
	{"rtt300", "300 ms RTT", Profile{Delay: 150 * time.Millisecond}, Profile{Delay: 150 * time.Millisecond}},
	{"down500", "downlink capped at 500 kb/s, 40 ms RTT", Profile{Delay: 20 * time.Millisecond}, Profile{Delay: 20 * time.Millisecond, RateKbps: 500}},
	{"down250", "downlink capped at 250 kb/s, 40 ms RTT", Profile{Delay: 20 * time.Millisecond}, Profile{Delay: 20 * time.Millisecond, RateKbps: 250}},
	{"up300", "uplink capped at 300 kb/s, 40 ms RTT", Profile{Delay: 20 * time.Millisecond, RateKbps: 300}, Profile{Delay: 20 * time.Millisecond}},
	{"tcp443", "UDP blocked, only TCP to port 443", Profile{OnlyTCP443: true}, Profile{OnlyTCP443: true}},
}

// PresetByName finds a preset.
func PresetByName(name string) (Preset, bool) {
	for _, p := range Presets {
		if p.Name == name {
			return p, true
		}
	}
	return Preset{}, false
}
