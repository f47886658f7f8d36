package sfu

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v5"

	"github.com/parleyhq/parley/internal/testkit/tlscert"
)

// turnURL finds the host:port of the scheme's URL among a server's.
func turnURL(t *testing.T, s ICEServer, scheme string) string {
	t.Helper()
	for _, u := range s.URLs {
		if strings.HasPrefix(u, scheme+":") {
			hp, _, _ := strings.Cut(strings.TrimPrefix(u, scheme+":"), "?")
			return hp
		}
	}
	t.Fatalf("no %s URL in %v", scheme, s.URLs)
	return ""
}

// turnAllocate makes a TURN allocation over conn (UDP socket or TLS stream).
func turnAllocate(t *testing.T, conn net.PacketConn, server, user, pass string) (*turn.Client, net.PacketConn, error) {
	t.Helper()
	c, err := turn.NewClient(&turn.ClientConfig{TURNServerAddr: server, STUNServerAddr: server, Conn: conn, Username: user, Password: pass, Realm: turnRealm})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := c.Allocate()
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	t.Cleanup(func() { relay.Close(); c.Close() })
	return c, relay, nil
}

func udpConn(t *testing.T) net.PacketConn {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

// TestTURNRelaysOnlyToTheServerForItsParticipants: the embedded TURN
// server gives a participant credentials that work over UDP and TLS, and
// refuses forged, expired and other participants' altered credentials,
// relays to any address but the server's own media addresses, and more
// relays than a participant may hold.
func TestTURNRelaysOnlyToTheServerForItsParticipants(t *testing.T) {
	cert, pool, err := tlscert.New("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{UDPPort: 0, TCPPort: -1, Interfaces: []string{"lo"}, ICEServers: []string{"stun:stun.internal.example:3478"},
		TURN: TURNOptions{UDPAddr: "127.0.0.1:0", TLSAddr: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, MaxAllocations: 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	servers := s.ICEServers("PA_ada")
	if len(servers) != 2 || len(servers[0].URLs) != 1 || servers[0].Username != "" {
		t.Fatalf("ice servers %+v: want the operator's, then TURN with credentials", servers)
	}
	ada := servers[1]
	exp, who, _ := strings.Cut(ada.Username, ":")
	if e, _ := strconv.ParseInt(exp, 10, 64); who != "PA_ada" || time.Until(time.Unix(e, 0)) < 11*time.Hour {
		t.Fatalf("username %q: want 12 h from now and the participant", ada.Username)
	}
	udpAddr, tlsAddr := turnURL(t, ada, "turn"), turnURL(t, ada, "turns")
	if _, err := url.Parse("turn:" + udpAddr); err != nil {
		t.Fatal(err)
	}

	// An echo on the server's media address, another port: a relay may
	// reach it (permissions go by address).
	echo := udpConn(t)
	go func() {
		b := make([]byte, 1500)
		for {
			n, from, err := echo.ReadFrom(b)
			if err != nil {
				return
			}
			echo.WriteTo(b[:n], from)
		}
	}()

	_, relay, err := turnAllocate(t, udpConn(t), udpAddr, ada.Username, ada.Credential)
	if err != nil {
		t.Fatalf("allocation with the participant's credentials: %v", err)
	}
	if _, err := relay.WriteTo([]byte("through the relay"), echo.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	relay.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 100)
	n, _, err := relay.ReadFrom(b)
	if err != nil || !bytes.Equal(b[:n], []byte("through the relay")) {
		t.Fatalf("echo through the relay: %q %v", b[:n], err)
	}
	// Elsewhere: refused. 127.0.0.2 stands for any other address (were
	// the test to fail, nothing would leave the machine).
	if _, err := relay.WriteTo([]byte("x"), &net.UDPAddr{IP: net.ParseIP("127.0.0.2"), Port: 9}); err == nil {
		t.Error("a relay to 127.0.0.2, not a media address, was permitted: an open relay")
	}

	// Over TLS, trusting the server's certificate.
	tc, err := tls.Dial("tcp4", tlsAddr, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if _, _, err := turnAllocate(t, turn.NewSTUNConn(tc), tlsAddr, ada.Username, ada.Credential); err != nil {
		t.Fatalf("allocation over TLS: %v", err)
	}
	// A third: over the participant's quota.
	if _, _, err := turnAllocate(t, udpConn(t), udpAddr, ada.Username, ada.Credential); err == nil {
		t.Error("a third allocation was granted: quota is 2")
	}

	bad := map[string][2]string{
		"wrong password":           {ada.Username, "c2VjcmV0"},
		"another participant's id": {exp + ":PA_eve", ada.Credential},
		"a later expiry":           {strconv.FormatInt(time.Now().Add(48*time.Hour).Unix(), 10) + ":PA_ada", ada.Credential},
		"no participant":           {exp, ada.Credential},
	}
	// Expired, and signed with the server's secret as a client could
	// never do: only the expiry refuses it.
	expired := strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10) + ":PA_ada"
	mac := hmac.New(sha1.New, []byte(s.turn.opts.Secret))
	mac.Write([]byte(expired))
	bad["expired"] = [2]string{expired, base64.StdEncoding.EncodeToString(mac.Sum(nil))}
	for what, c := range bad {
		if _, _, err := turnAllocate(t, udpConn(t), udpAddr, c[0], c[1]); err == nil {
			t.Errorf("%s: allocation granted", what)
		}
	}
}

// TestNoTURNByDefault: without a TURN address there is no TURN server
// and no credentials are handed out.
func TestNoTURNByDefault(t *testing.T) {
	s, err := New(Options{UDPPort: 0, TCPPort: -1, Interfaces: []string{"lo"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if l := s.ICEServers("PA_ada"); len(l) != 0 || s.turn != nil {
		t.Fatalf("ice servers %+v without TURN configured", l)
	}
}
