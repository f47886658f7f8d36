package auth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/parleyhq/parley/internal/auth"
)

// handOP is a small provider written for these tests only, so that it
// can hand out ID tokens no real provider would: wrong nonce, wrong
// audience, expired, signed by another key. Its token endpoint checks
// the PKCE verifier (RFC 7636 §4.6), so a sign-in that did not send the
// right one fails even in the good case.
type handOP struct {
	issuer string
	key    *rsa.PrivateKey
	mu     sync.Mutex
	// claims edits the ID token's claims before it is signed.
	claims func(c map[string]any)
	// signer signs the token (nil: key, the published one).
	signer   *rsa.PrivateKey
	authReq  url.Values
	endpoint bool // publish an end_session_endpoint
}

func startHandOP(t *testing.T) *handOP {
	t.Helper()
	ln, base := listen(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	op := &handOP{issuer: base, key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		doc := map[string]any{"issuer": op.issuer, "authorization_endpoint": op.issuer + "/authorize",
			"token_endpoint": op.issuer + "/token", "jwks_uri": op.issuer + "/jwks",
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"}}
		json.NewEncoder(w).Encode(doc)
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		op.mu.Lock()
		op.authReq = q
		op.mu.Unlock()
		back, _ := url.Parse(q.Get("redirect_uri"))
		back.RawQuery = url.Values{"code": {"the-code"}, "state": {q.Get("state")}}.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		op.mu.Lock()
		defer op.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		if r.PostFormValue("code") != "the-code" || base64.RawURLEncoding.EncodeToString(sum[:]) != op.authReq.Get("code_challenge") {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
			return
		}
		now := time.Now()
		c := map[string]any{"iss": op.issuer, "sub": "u1", "aud": "rp", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"nonce": op.authReq.Get("nonce"), "name": "Grace Hopper", "email": "grace@example.org"}
		if op.claims != nil {
			op.claims(c)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "id_token": op.sign(t, c)})
	})
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	srv.Start()
	t.Cleanup(srv.Close)
	return op
}

func (op *handOP) sign(t *testing.T, claims map[string]any) string {
	key := op.key
	if op.signer != nil {
		key = op.signer
	}
	if op.signer == nil && claims["alg"] == "none" {
		delete(claims, "alg")
		payload, _ := json.Marshal(claims)
		return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Error(err)
		return ""
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Error(err)
		return ""
	}
	s, _ := jws.CompactSerialize()
	return s
}

// TestIDTokenRefusals: each bad ID token ends the sign-in with 403 and
// no session; the good one (same provider, same path) signs in.
func TestIDTokenRefusals(t *testing.T) {
	op := startHandOP(t)
	ln, _ := listen(t)
	g := newRig(t, ln, auth.Config{Issuer: op.issuer, ClientID: "rp", ACRValues: "eidas2"})
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	cases := []struct {
		name   string
		claims func(c map[string]any)
		signer *rsa.PrivateKey
		user   *auth.User // nil: refused
	}{
		{"good", func(c map[string]any) { c["acr"] = "eidas2" }, nil, &auth.User{Subject: "oidc:u1", Name: "Grace Hopper", Email: "grace@example.org"}},
		{"ProConnect claims", func(c map[string]any) {
			c["acr"] = "eidas2"
			delete(c, "name")
			c["given_name"], c["usual_name"], c["family_name"] = "Marie", "Curie", "Skłodowska"
		}, nil, &auth.User{Subject: "oidc:u1", Name: "Marie Curie", Email: "grace@example.org"}},
		{"wrong nonce", func(c map[string]any) { c["acr"] = "eidas2"; c["nonce"] = "another-sign-in" }, nil, nil},
		{"no nonce", func(c map[string]any) { c["acr"] = "eidas2"; delete(c, "nonce") }, nil, nil},
		{"wrong audience", func(c map[string]any) { c["acr"] = "eidas2"; c["aud"] = "another-client" }, nil, nil},
		{"several audiences, azp not us", func(c map[string]any) { c["acr"] = "eidas2"; c["aud"] = []string{"rp", "other"}; c["azp"] = "other" }, nil, nil},
		{"expired", func(c map[string]any) { c["acr"] = "eidas2"; c["exp"] = time.Now().Add(-time.Minute).Unix() }, nil, nil},
		{"wrong issuer", func(c map[string]any) { c["acr"] = "eidas2"; c["iss"] = "http://127.0.0.1:1" }, nil, nil},
		{"signed by another key", func(c map[string]any) { c["acr"] = "eidas2" }, otherKey, nil},
		{"unsigned (alg none)", func(c map[string]any) { c["acr"] = "eidas2"; c["alg"] = "none" }, nil, nil},
		{"weaker acr", func(c map[string]any) { c["acr"] = "eidas1" }, nil, nil},
		{"no acr", nil, nil, nil},
		{"no sub", func(c map[string]any) { c["acr"] = "eidas2"; delete(c, "sub") }, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			jar, _ := cookiejar.New(nil)
			g.client.Jar = jar
			g.t = t
			op.mu.Lock()
			op.claims, op.signer = c.claims, c.signer
			op.mu.Unlock()
			status, body := g.get(auth.LoginPath + "?next=/abcdefghijklm")
			op.mu.Lock()
			acr := op.authReq.Get("acr_values")
			op.mu.Unlock()
			if acr != "eidas2" {
				t.Errorf("acr_values sent: %q", acr)
			}
			u, ok := g.me()
			if c.user == nil {
				if status != http.StatusForbidden || ok || !strings.Contains(body, "sign-in failed") {
					t.Fatalf("refusal expected: %d %q, signed in %v as %+v", status, body, ok, u)
				}
				if _, has := g.cookie(auth.SessionCookie); has {
					t.Fatal("refused sign-in set a session cookie")
				}
				return
			}
			if status != http.StatusOK || body != "page /abcdefghijklm" || !ok || u != *c.user {
				t.Fatalf("sign-in: %d %q, signed in %v as %+v", status, body, ok, u)
			}
			// This provider has no end_session_endpoint: logout ends
			// Parley's session and sends the page home.
			if status, out := g.logout(true); status != http.StatusOK || out["redirect"] != "/" {
				t.Fatalf("logout: %d %v", status, out)
			}
		})
	}
}

// TestStateRefusals: a callback must come back to the browser that
// started it, with its state.
func TestStateRefusals(t *testing.T) {
	op := startHandOP(t)
	ln, _ := listen(t)
	g := newRig(t, ln, auth.Config{Issuer: op.issuer, ClientID: "rp"})
	start := func() string {
		resp, err := g.noFollow().Get(g.base + auth.LoginPath)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// The browser goes to the provider, which answers with the
		// callback URL; the test decides what reaches the callback.
		authz, err := g.noFollow().Get(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		authz.Body.Close()
		to, _ := url.Parse(authz.Header.Get("Location"))
		return to.Query().Get("state")
	}
	state := start()
	if status, _ := g.get(auth.CallbackPath + "?code=the-code&state=" + strings.Repeat("A", 43)); status != http.StatusBadRequest {
		t.Fatalf("state other than the flow cookie's: %d", status)
	}
	if status, _ := g.get(auth.CallbackPath + "?code=the-code"); status != http.StatusBadRequest {
		t.Fatalf("no state: %d", status)
	}
	// Login CSRF: an attacker's own callback URL (their code, their
	// state) opened in the victim's browser, which never started that
	// flow, is refused.
	state = start()
	victim := &http.Client{}
	resp, err := victim.Get(g.base + auth.CallbackPath + "?code=the-code&state=" + state)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("callback in a browser that did not start the flow: %d", resp.StatusCode)
	}
	// The flow itself still completes in the browser that started it.
	g.setCookie(&http.Cookie{Name: auth.FlowCookie, Value: state, Path: "/auth/"})
	if status, body := g.get(auth.CallbackPath + "?code=the-code&state=" + state); status != http.StatusOK || body != "page /" {
		t.Fatalf("the starting browser's callback: %d %q", status, body)
	}
}
