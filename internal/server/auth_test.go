package server

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testkit/client"
	"github.com/parleyhq/parley/internal/testkit/oidcop"
)

func session(t *testing.T, c *http.Client, base string) (mode auth.Mode, user *auth.User) {
	t.Helper()
	resp, err := c.Get(base + "/api/session")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Mode auth.Mode
		User *auth.User
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Mode, out.User
}

func TestOpenModeByDefault(t *testing.T) {
	srv := start(t)
	if mode, user := session(t, http.DefaultClient, srv.URL()); mode != auth.Open || user != nil {
		t.Fatalf("default server: mode %q, user %+v", mode, user)
	}
	if code, err := httpGet(srv.URL() + auth.LoginPath); err != nil || code != http.StatusNotFound {
		t.Fatalf("GET /auth/login in open mode: %d %v", code, err)
	}
}

// TestOIDCModeSignsIn configures a server as an operator would (issuer,
// client id, secret, public URL) and signs in at a real provider.
func TestOIDCModeSignsIn(t *testing.T) {
	// The provider must know the redirect URI, so the server's address
	// is chosen first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr
	op := oidcop.Start(t, base+auth.CallbackPath, base+"/")
	srv := start(t, func(c *config.Config) {
		c.Listen, c.PublicURL = addr, base
		c.OIDC.Issuer, c.OIDC.ClientID, c.OIDC.ClientSecret = op.Issuer, op.ClientID, op.ClientSecret
	})
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	if mode, user := session(t, c, srv.URL()); mode != auth.OIDC || user != nil {
		t.Fatalf("before sign-in: mode %q, user %+v", mode, user)
	}
	page, err := c.Get(srv.URL() + auth.LoginPath)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := oidcop.SubmitLogin(c, page, op.Username, oidcop.Password)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.String() != base+"/" {
		t.Fatalf("landed on %s", resp.Request.URL)
	}
	if _, user := session(t, c, srv.URL()); user == nil || user.Subject != "oidc:"+oidcop.Subject || user.Name != oidcop.Name {
		t.Fatalf("after sign-in: %+v", user)
	}
}

// oidcServer starts a provider and a server in oidc mode that trusts it.
func oidcServer(t *testing.T) (*Server, *oidcop.Provider) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr
	op := oidcop.Start(t, base+auth.CallbackPath, base+"/")
	srv := start(t, func(c *config.Config) {
		c.Listen, c.PublicURL = addr, base
		c.OIDC.Issuer, c.OIDC.ClientID, c.OIDC.ClientSecret = op.Issuer, op.ClientID, op.ClientSecret
	})
	return srv, op
}

// signedIn returns a browser-like API client signed in as username.
func signedIn(t *testing.T, srv *Server, username string) *client.HTTP {
	t.Helper()
	h := client.NewHTTP(srv.URL())
	page, err := h.Client().Get(srv.URL() + auth.LoginPath)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := oidcop.SubmitLogin(h.Client(), page, username, oidcop.Password)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, user := session(t, h.Client(), srv.URL()); user == nil {
		t.Fatalf("%s is not signed in", username)
	}
	return h
}

// joinWith joins room on a new socket as the browser h.
func joinWith(t *testing.T, srv *Server, h *client.HTTP, room, name string) (*client.Client, client.Message) {
	t.Helper()
	c, err := client.Connect(ctxT(t, 5*time.Second), srv.URL(), client.Options{KeepMessages: true, HTTP: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Drop() })
	m, err := c.Join(ctxT(t, 5*time.Second), room, name)
	if err != nil {
		t.Fatalf("%s joins %s: %v", name, room, err)
	}
	return c, m
}

func apiCode(err error) int {
	var he *client.HTTPError
	if errors.As(err, &he) {
		return he.Code
	}
	return 0
}

// TestOIDCRoomAccess runs the access levels with signed-in users and a
// guest: who creates rooms, who enters, who knocks, whose name counts.
func TestOIDCRoomAccess(t *testing.T) {
	srv, op := oidcServer(t)
	ctx := ctxT(t, 60*time.Second)
	ada := signedIn(t, srv, op.Username) // Test User, the owner
	bob := signedIn(t, srv, "test-user2")
	guest := client.NewHTTP(srv.URL())

	// Only signed-in users create rooms, and only with long names.
	if err := guest.API(ctx, "POST", "/api/rooms", map[string]any{}, nil); apiCode(err) != 4050 {
		t.Fatalf("a guest created a room: %v", err)
	}
	if err := ada.API(ctx, "POST", "/api/rooms", map[string]any{"id": "short"}, nil); err == nil {
		t.Fatal("a 5-letter room name was accepted")
	}
	var created struct {
		ID       string
		Settings struct{ Access, TranscriptionBy string }
	}
	if err := ada.API(ctx, "POST", "/api/rooms", map[string]any{"id": "council-budget", "access": "trusted"}, &created); err != nil {
		t.Fatal(err)
	}
	if created.Settings.Access != "trusted" {
		t.Fatalf("created: %+v", created)
	}
	// A guest's first join of an unknown room does not create it either.
	if err := guest.API(ctx, "POST", "/api/rooms/council-invented/join", map[string]string{"name": "Grace"}, nil); apiCode(err) == 0 {
		t.Fatal("a guest created a room by joining it")
	}
	var mine []struct{ ID string }
	if err := ada.API(ctx, "GET", "/api/rooms", nil, &mine); err != nil || len(mine) != 1 || mine[0].ID != "council-budget" {
		t.Fatalf("Ada's rooms: %+v %v", mine, err)
	}
	if err := bob.API(ctx, "GET", "/api/rooms", nil, &mine); err != nil || len(mine) != 0 {
		t.Fatalf("Bob's rooms: %+v %v", mine, err)
	}

	// Trusted: signed-in users enter under the provider's name; guests knock.
	owner, m := joinWith(t, srv, ada, "council-budget", "Someone Else")
	if m.Type != "joined" || m.Role != "owner" {
		t.Fatalf("owner: %s role %q", m.Type, m.Role)
	}
	b, m := joinWith(t, srv, bob, "council-budget", "Ada Lovelace")
	if m.Type != "joined" || m.Role != "participant" {
		t.Fatalf("signed-in user in a trusted room: %s role %q", m.Type, m.Role)
	}
	for _, p := range m.Participants {
		if p.Name == "Ada Lovelace" {
			t.Fatal("a signed-in user chose their own name")
		}
	}
	g, m := joinWith(t, srv, guest, "council-budget", "Grace")
	if m.Type != "lobby" {
		t.Fatalf("a guest in a trusted room got %q, want lobby", m.Type)
	}
	lc, err := owner.WaitFor(ctx, func(m client.Message) bool { return m.Type == "lobby_changed" && len(m.Waiting) == 1 })
	if err != nil {
		t.Fatal(err)
	}
	owner.Send(map[string]any{"type": "moderate", "action": "admit", "participant_id": lc.Waiting[0].ID})
	in, err := g.WaitFor(ctx, func(m client.Message) bool { return m.Type == "joined" })
	if err != nil {
		t.Fatalf("admitted guest: %v", err)
	}
	if in.Role != "guest" {
		t.Fatalf("guest's role %q", in.Role)
	}
	pj, err := b.WaitFor(ctx, func(m client.Message) bool { return m.Type == "participant_joined" && m.Participant.Name == "Grace" })
	if err != nil || !pj.Participant.Guest {
		t.Fatalf("others are not told Grace is a guest: %+v %v", pj.Participant, err)
	}
	// Transcription is for moderators by default in oidc mode.
	if !strings.Contains(string(in.Raw), `"transcription_by":"moderators"`) {
		t.Fatalf("an oidc room's default transcription policy: %s", in.Raw)
	}

	// Only the owner reads and changes the settings.
	if err := bob.API(ctx, "GET", "/api/rooms/council-budget/settings", nil, nil); apiCode(err) != 4004 && apiCode(err) == 0 {
		t.Fatalf("Bob read the settings: %v", err)
	}
	set := func(body map[string]any) {
		t.Helper()
		if err := ada.API(ctx, "PATCH", "/api/rooms/council-budget/settings", body, nil); err != nil {
			t.Fatalf("settings %v: %v", body, err)
		}
	}
	knocks := func(h *client.HTTP) (role string, lobby bool) {
		t.Helper()
		var a client.JoinAnswer
		if err := h.API(ctx, "POST", "/api/rooms/council-budget/join", map[string]string{"name": "x"}, &a); err != nil {
			t.Fatal(err)
		}
		return a.Role, a.Lobby
	}
	// Restricted: the listed e-mail addresses enter, everyone else knocks.
	set(map[string]any{"access": "restricted", "members": []map[string]string{}})
	if _, lobby := knocks(bob); !lobby {
		t.Fatal("an unlisted user entered a restricted room")
	}
	set(map[string]any{"members": []map[string]string{{"email": "Test-User2@zitadel.ch"}}})
	if role, lobby := knocks(bob); lobby || role != "participant" {
		t.Fatalf("a listed member: role %q lobby %v", role, lobby)
	}
	if _, lobby := knocks(guest); !lobby {
		t.Fatal("a guest entered a restricted room")
	}
	set(map[string]any{"members": []map[string]string{{"email": "test-user2@zitadel.ch", "role": "moderator"}}})
	if role, lobby := knocks(bob); lobby || role != "moderator" {
		t.Fatalf("a listed moderator: role %q lobby %v", role, lobby)
	}
	var got struct {
		Access  string
		Members []struct{ Email, Role string }
	}
	if err := ada.API(ctx, "GET", "/api/rooms/council-budget/settings", nil, &got); err != nil {
		t.Fatal(err)
	}
	if got.Access != "restricted" || len(got.Members) != 1 || got.Members[0].Email != "test-user2@zitadel.ch" {
		t.Fatalf("settings: %+v", got)
	}
	if err := ada.API(ctx, "PATCH", "/api/rooms/council-budget/settings", map[string]any{"members": []map[string]string{{"email": "not an address"}}}, nil); apiCode(err) == 0 {
		t.Fatal("a bad member address was accepted")
	}
	// A locked room makes even a signed-in member knock, but not a moderator.
	set(map[string]any{"access": "trusted", "locked": true, "members": []map[string]string{}})
	if _, lobby := knocks(bob); !lobby {
		t.Fatal("a signed-in user entered a locked room")
	}
	if role, lobby := knocks(ada); lobby || role != "owner" {
		t.Fatalf("owner in a locked room: %q %v", role, lobby)
	}
}
