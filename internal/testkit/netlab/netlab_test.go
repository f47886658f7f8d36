package netlab

import (
	"io"
	"math"
	"net"
	"net/http"
	"os/exec"
	"testing"
	"time"
)

func newLab(t *testing.T) *Lab {
	t.Helper()
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// echo answers UDP datagrams on the lab's server address.
func echo(t *testing.T, l *Lab) *net.UDPAddr {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(l.ServerIP)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 2000)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			c.WriteToUDP(buf[:n], from)
		}
	}()
	return c.LocalAddr().(*net.UDPAddr)
}

// probe sends n datagrams 2 ms apart from inside the namespace and
// returns how many came back and their round-trip times.
func probe(t *testing.T, k *Link, to *net.UDPAddr, n int) (got int, rtts []time.Duration) {
	t.Helper()
	var c *net.UDPConn
	if err := k.NS.Do(func() (err error) { c, err = net.DialUDP("udp4", nil, to); return err }); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sent := make([]time.Time, n)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2000)
		for {
			c.SetReadDeadline(time.Now().Add(time.Second))
			m, err := c.Read(buf)
			if err != nil {
				return
			}
			if m >= 2 {
				i := int(buf[0])<<8 | int(buf[1])
				got++
				rtts = append(rtts, time.Since(sent[i]))
			}
		}
	}()
	msg := make([]byte, 200)
	for i := range n {
		msg[0], msg[1] = byte(i>>8), byte(i)
		sent[i] = time.Now()
		c.Write(msg)
		time.Sleep(2 * time.Millisecond)
	}
	<-done
	return got, rtts
}

// TestLinkImpairs: datagrams through a link with 50 ms each way and 10 %
// loss each way come back after about 100 ms, about 81 % of them; the
// counters say what each direction dropped; the namespace reaches only
// the server's address.
func TestLinkImpairs(t *testing.T) {
	l := newLab(t)
	to := echo(t, l)
	k, err := l.AddLink(Profile{Delay: 50 * time.Millisecond, Loss: 0.1}, Profile{Delay: 50 * time.Millisecond, Loss: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	got, rtts := probe(t, k, to, n)
	if frac := float64(got) / n; math.Abs(frac-0.81) > 0.05 {
		t.Errorf("%d of %d came back (%.1f %%), want about 81 %%", got, n, 100*frac)
	}
	for _, r := range rtts {
		if r < 100*time.Millisecond || r > 160*time.Millisecond {
			t.Fatalf("a round trip took %v, want 100 ms and a little", r)
		}
	}
	up, down := k.Up.Counts(), k.Down.Counts()
	if up.Lost < 60 || up.Lost > 140 || down.Lost < 50 || down.Lost > 130 {
		t.Errorf("lost up %d, down %d: want about 10 %% of %d and of what got through", up.Lost, down.Lost, n)
	}
	// No route anywhere else: the kernel has nothing to send with.
	for _, dst := range []string{"192.0.2.1", "127.0.0.1", "8.8.8.8"} {
		out, err := exec.Command("ip", "-n", k.NS.Name, "route", "get", dst).CombinedOutput()
		if dst == "127.0.0.1" {
			if err != nil {
				t.Errorf("the namespace's own loopback: %v %s", err, out)
			}
			continue
		}
		if err == nil {
			t.Errorf("the namespace has a route to %s: %s", dst, out)
		}
	}
}

// TestOutageAndBurstAndFilter: an outage drops everything while it
// lasts; Gilbert–Elliott loss comes in runs; a TCP-443-only link drops
// UDP and lets HTTPS-port TCP through.
func TestOutageAndBurstAndFilter(t *testing.T) {
	l := newLab(t)
	to := echo(t, l)
	ge := &GilbertElliott{P: 0.01, R: 0.2, LossBad: 1}
	k, err := l.AddLink(Profile{Burst: ge}, Profile{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	got, _ := probe(t, k, to, n)
	lost := n - got
	mean := (ge.P * ge.LossBad) / (ge.P + ge.R) // 4.8 %
	if f := float64(lost) / n; f < mean/2 || f > mean*2 {
		t.Errorf("bursty loss %.1f %%, want about %.1f %%", 100*f, 100*mean)
	}
	k.Outage(300 * time.Millisecond)
	if got, _ := probe(t, k, to, 50); got != 0 { // 100 ms of sending, inside the outage
		t.Errorf("%d datagrams crossed an outage", got)
	}
	time.Sleep(300 * time.Millisecond)
	// Bursty loss still applies, and on a busy machine (CI runs the
	// packages side by side) one probe can meet a long bad run: the
	// best of three, ~0.1 s each, must pass.
	best := 0
	for try := 0; try < 3 && best < 30; try++ {
		got, _ := probe(t, k, to, 50)
		best = max(best, got)
	}
	if best < 30 {
		t.Errorf("only %d of 50 after the outage (best of three probes)", best)
	}

	k.SetProfiles(Profile{OnlyTCP443: true}, Profile{OnlyTCP443: true})
	if got, _ := probe(t, k, to, 20); got != 0 {
		t.Errorf("%d UDP datagrams crossed a TCP-443-only link", got)
	}
	ln, err := net.Listen("tcp4", net.JoinHostPort(l.ServerIP, "443"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }))
	hc := &http.Client{Transport: &http.Transport{DialContext: k.NS.DialContext}, Timeout: 5 * time.Second}
	resp, err := hc.Get("http://" + l.ServerIP + ":443/")
	if err != nil {
		t.Fatalf("TCP 443 through the filter: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hello" {
		t.Errorf("got %q", b)
	}
}

// TestDropEvery: Profile.Every drops exactly every n-th packet.
func TestDropEvery(t *testing.T) {
	d := &Direction{}
	p := Profile{Every: 10, Loss: 1} // Every wins over the other models
	var lost []int
	for i := 1; i <= 35; i++ {
		if d.drop(&p) {
			lost = append(lost, i)
		}
	}
	if len(lost) != 3 || lost[0] != 10 || lost[1] != 20 || lost[2] != 30 {
		t.Errorf("lost packets %v, want 10, 20, 30", lost)
	}
}
