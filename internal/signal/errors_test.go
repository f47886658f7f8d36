package signal

import (
	"errors"
	"fmt"
	"go/ast"
	"go/token"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/room"
	"github.com/parleyhq/parley/internal/sfu"
)

// errorKinds maps every sentinel error of packages room and sfu (by its
// Go name) to its code and the REST API's status for it.
var errorKinds = []struct {
	name   string
	err    error
	code   Code
	status int
}{
	{"room.ErrInvalidRoomID", room.ErrInvalidRoomID, CodeInvalidRoom, http.StatusNotFound},
	{"room.ErrNotAllowed", room.ErrNotAllowed, CodeNotAllowed, http.StatusForbidden},
	{"room.ErrEdge", room.ErrEdge, CodeNotAllowed, http.StatusForbidden},
	{"room.ErrRemoved", room.ErrRemoved, CodeRemoved, http.StatusForbidden},
	{"room.ErrNotAdmitted", room.ErrNotAdmitted, CodeNotAdmitted, http.StatusForbidden},
	{"room.ErrNoSuchPerson", room.ErrNoSuchPerson, CodeNoSuchPerson, http.StatusNotFound},
	{"room.ErrConsent", room.ErrConsent, CodeConsent, http.StatusServiceUnavailable},
	{"room.ErrInvalidName", room.ErrInvalidName, CodeInvalidName, http.StatusBadRequest},
	{"room.ErrShuttingDown", room.ErrShuttingDown, CodeShuttingDown, http.StatusServiceUnavailable},
	{"room.ErrRoomFull", room.ErrRoomFull, CodeRoomFull, http.StatusConflict},
	{"room.ErrServerFull", room.ErrServerFull, CodeServerFull, http.StatusServiceUnavailable},
	{"room.ErrTooManyRooms", room.ErrTooManyRooms, CodeTooManyRooms, http.StatusServiceUnavailable},
	{"room.ErrResumeFailed", room.ErrResumeFailed, CodeResumeFailed, http.StatusGone},
	{"room.ErrInvalidChat", room.ErrInvalidChat, CodeInvalidChat, http.StatusBadRequest},
	{"room.ErrRateLimited", room.ErrRateLimited, CodeRateLimited, http.StatusTooManyRequests},
	{"room.ErrInvalidEmoji", room.ErrInvalidEmoji, CodeInvalidReaction, http.StatusBadRequest},
	{"room.ErrNotPublisher", room.ErrNotPublisher, CodeUnknownTrack, http.StatusNotFound},
	{"room.ErrUnknownTrack", room.ErrUnknownTrack, CodeUnknownTrack, http.StatusNotFound},
	{"room.ErrInvalidLayer", room.ErrInvalidLayer, CodeInvalidField, http.StatusBadRequest},
	{"room.ErrParticipantGone", room.ErrParticipantGone, CodeInternal, http.StatusInternalServerError},
	{"room.ErrTranscriptionUnavailable", room.ErrTranscriptionUnavailable, CodeNoTranscription, http.StatusNotImplemented},
	{"room.ErrRecordingUnavailable", room.ErrRecordingUnavailable, CodeNoRecording, http.StatusNotImplemented},
	{"room.ErrRoomClosed", room.ErrRoomClosed, CodeRoomEnded, http.StatusNotFound},
	{"sfu.ErrBadSDP", sfu.ErrBadSDP, CodeBadSDP, http.StatusBadRequest},
	{"sfu.ErrNoSupportedCodec", sfu.ErrNoSupportedCodec, CodeNoCodec, http.StatusBadRequest},
	{"sfu.ErrNoRemoteDesc", sfu.ErrNoRemoteDesc, CodeEarlyCandidate, http.StatusConflict},
	{"sfu.ErrBadCandidate", sfu.ErrBadCandidate, CodeBadCandidate, http.StatusBadRequest},
	{"sfu.ErrLimit", sfu.ErrLimit, CodeLimit, http.StatusTooManyRequests},
	{"sfu.ErrClosed", sfu.ErrClosed, CodeInternal, http.StatusInternalServerError},
	{"sfu.ErrUnknownTrack", sfu.ErrUnknownTrack, CodeUnknownTrack, http.StatusNotFound},
}

func TestErrorMapping(t *testing.T) {
	for _, k := range errorKinds {
		// Wrapped as the room and the SFU return them.
		err := fmt.Errorf("op: %w", k.err)
		if got := CodeOf(err); got != k.code {
			t.Errorf("%s: code %d %s, want %d %s", k.name, got, got, k.code, k.code)
		}
		if got := CodeOf(err).HTTPStatus(); got != k.status {
			t.Errorf("%s: HTTP %d, want %d", k.name, got, k.status)
		}
	}
	// Errors that carry their own code, and errors of no known kind.
	for _, c := range []struct {
		err    error
		code   Code
		status int
	}{
		{NewError(CodeNotFound, "no such meeting"), CodeNotFound, http.StatusNotFound},
		{fmt.Errorf("transcript: %w", NewError(CodeInvalidField, "unknown format")), CodeInvalidField, http.StatusBadRequest},
		{NewError(CodeTooLarge, "too large"), CodeTooLarge, http.StatusRequestEntityTooLarge},
		{errors.New("disk full"), CodeInternal, http.StatusInternalServerError},
		{NewError(Code(4999), "unregistered"), Code(4999), http.StatusInternalServerError},
	} {
		if got := CodeOf(c.err); got != c.code || got.HTTPStatus() != c.status {
			t.Errorf("%v: code %d, HTTP %d; want %d, %d", c.err, got, got.HTTPStatus(), c.code, c.status)
		}
	}
}

// TestErrorKindsComplete fails when package room or sfu gains a sentinel
// error that errorKinds does not map: each must get a code on purpose.
func TestErrorKindsComplete(t *testing.T) {
	listed := map[string]bool{}
	for _, k := range errorKinds {
		listed[k.name] = true
	}
	for _, pkg := range []string{"room", "sfu"} {
		for _, f := range parseDir(t, filepath.Join("..", pkg)) {
			for _, d := range f.Decls {
				gd, ok := d.(*ast.GenDecl)
				if !ok || gd.Tok != token.VAR {
					continue
				}
				for _, spec := range gd.Specs {
					for _, n := range spec.(*ast.ValueSpec).Names {
						if name := pkg + "." + n.Name; strings.HasPrefix(n.Name, "Err") && !listed[name] {
							t.Errorf("%s has no code in errorKinds", name)
						}
					}
				}
			}
		}
	}
}

// TestCodesGolden pins the registry: codes are never renumbered or
// renamed, and a code's HTTP status changes only on purpose.
func TestCodesGolden(t *testing.T) {
	var b strings.Builder
	for _, c := range sortedCodes() {
		if c.String() == "" || c < 4000 || c > 5999 || http.StatusText(c.HTTPStatus()) == "" {
			t.Errorf("code %d %q (HTTP %d) outside the registry's shape", c, c, c.HTTPStatus())
		}
		fmt.Fprintf(&b, "%d %s %d\n", c, c, c.HTTPStatus())
	}
	checkGolden(t, filepath.Join("testdata", "codes.txt"), []byte(strings.TrimSuffix(b.String(), "\n")))
}

func sortedCodes() []Code {
	codes := make([]Code, 0, len(registry))
	for c := range registry {
		codes = append(codes, c)
	}
	sort.Slice(codes, func(a, b int) bool { return codes[a] < codes[b] })
	return codes
}
