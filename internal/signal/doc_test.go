package signal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const protocolDoc = "../../docs/protocol.md"

// docExample is one JSON message shown in docs/protocol.md.
type docExample struct {
	line   int    // where its code block starts
	client bool   // under "Client → server" (else "Server → client")
	json   []byte // as written
}

// docExamples returns the messages of the ```json blocks of the protocol
// document; a block may hold several messages one after the other.
func docExamples(t *testing.T) []docExample {
	t.Helper()
	f, err := os.Open(protocolDoc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out     []docExample
		section string
		block   *bytes.Buffer
		start   int
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case block == nil && strings.HasPrefix(line, "## "):
			section = strings.TrimPrefix(line, "## ")
		case block == nil && strings.TrimSpace(line) == "```json":
			block, start = new(bytes.Buffer), n
		case block != nil && strings.TrimSpace(line) == "```":
			if section != "Client → server" && section != "Server → client" {
				t.Fatalf("%s:%d: JSON example under %q, neither client nor server messages", protocolDoc, start, section)
			}
			dec := json.NewDecoder(block)
			for {
				var raw json.RawMessage
				err := dec.Decode(&raw)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("%s:%d: %v", protocolDoc, start, err)
				}
				out = append(out, docExample{line: start, client: section == "Client → server", json: raw})
			}
			block = nil
		case block != nil:
			block.WriteString(line + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if block != nil {
		t.Fatalf("%s:%d: unterminated code block", protocolDoc, start)
	}
	return out
}

// TestProtocolDocExamples decodes every JSON example of docs/protocol.md
// strictly into the wire struct of its type (client examples also through
// Decode and its validation) and encodes it again: an unknown type, an
// unknown or misspelt field, a field the server would leave out (omitempty)
// or put elsewhere fails. Every message type must have an example.
func TestProtocolDocExamples(t *testing.T) {
	documented := map[bool]map[string]bool{true: {}, false: {}}
	for _, ex := range docExamples(t) {
		var head struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(ex.json, &head); err != nil || head.Type == "" {
			t.Errorf("%s:%d: example without a type: %s", protocolDoc, ex.line, ex.json)
			continue
		}
		documented[ex.client][head.Type] = true
		var v any
		if ex.client {
			if _, err := Decode(ex.json); err != nil {
				t.Errorf("%s:%d: %s: %v", protocolDoc, ex.line, ex.json, err)
				continue
			}
			v = new(Inbound)
		} else {
			newMsg, ok := outbound[head.Type]
			if !ok {
				t.Errorf("%s:%d: the server sends no %q message", protocolDoc, ex.line, head.Type)
				continue
			}
			v = newMsg()
		}
		if err := strictDecode(ex.json, v); err != nil {
			t.Errorf("%s:%d: %s: %v", protocolDoc, ex.line, ex.json, err)
			continue
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var written bytes.Buffer
		if err := json.Compact(&written, ex.json); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, written.Bytes()) {
			t.Errorf("%s:%d: the example is not what the code writes:\n doc  %s\n code %s", protocolDoc, ex.line, written.Bytes(), again)
		}
	}
	for _, m := range inboundSamples {
		if !documented[true][m.Type] {
			t.Errorf("%s: client message %q has no example", protocolDoc, m.Type)
		}
	}
	for typ := range outbound {
		if !documented[false][typ] {
			t.Errorf("%s: server message %q has no example", protocolDoc, typ)
		}
	}
}

// codeRow is a row of the error code table: | code | name | HTTP | meaning |.
var codeRow = regexp.MustCompile("^\\| (\\d{4}) \\| ([a-z_]+) \\| (\\d{3}) \\|")

// TestProtocolDocCodes checks the document's error code table against the
// registry: every code, its name and its HTTP status, nothing else.
func TestProtocolDocCodes(t *testing.T) {
	b, err := os.ReadFile(protocolDoc)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[Code]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		m := codeRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		status, _ := strconv.Atoi(m[3])
		c := Code(n)
		rows[c] = true
		if _, ok := registry[c]; !ok {
			t.Errorf("%s lists code %d, which is not in the registry", protocolDoc, c)
		} else if m[2] != c.String() || status != c.HTTPStatus() {
			t.Errorf("%s: code %d is %s, HTTP %s; the registry says %s, HTTP %d", protocolDoc, c, m[2], m[3], c, c.HTTPStatus())
		}
	}
	for _, c := range sortedCodes() {
		if !rows[c] {
			t.Errorf("%s does not list code %d %s", protocolDoc, c, c)
		}
	}
}
