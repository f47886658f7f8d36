package httpapi

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"

	"github.com/parleyhq/parley/internal/access"
	"github.com/parleyhq/parley/internal/signal"
	"github.com/parleyhq/parley/internal/store"
)

// searchBody is POST /api/search's request: what to look for, and the
// meeting keys this browser kept (open mode, or meetings joined as a
// guest); a signed-in user's own meetings need no key.
type searchBody struct {
	Q     string   `json:"q"`
	Keys  []string `json:"keys"`
	Limit int      `json:"limit"`
}

// meetingKeysBody reads a JSON body that carries meeting keys (up to
// store.MaxSearchKeys of them) and returns their hashes.
func meetingKeysBody(w http.ResponseWriter, r *http.Request, v any, keys func() []string) ([]string, error) {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		return nil, signal.NewError(signal.CodeInvalidField, "a JSON body (Content-Type: application/json)")
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 128<<10)).Decode(v); err != nil {
		return nil, signal.NewError(signal.CodeInvalidField, "body: "+err.Error())
	}
	ks := keys()
	if len(ks) > store.MaxSearchKeys {
		return nil, signal.NewError(signal.CodeInvalidField, "at most 1000 meeting keys")
	}
	hashes := make([]string, 0, len(ks))
	for _, k := range ks {
		if k != "" && len(k) <= 128 {
			hashes = append(hashes, access.HashSecret(k))
		}
	}
	return hashes, nil
}

// search answers POST /api/search: the segments that match q in every
// meeting the caller may read (by the keys sent and the signed-in
// account), best first. A meeting the caller may not read is never
// searched; a caller with no credential finds nothing.
func (a *api) search(w http.ResponseWriter, r *http.Request) {
	var body searchBody
	hashes, err := meetingKeysBody(w, r, &body, func() []string { return body.Keys })
	if err != nil {
		writeError(w, err)
		return
	}
	_, subject := a.credential(r)
	hits, err := a.o.Store.Search(r.Context(), store.SearchQuery{Text: body.Q, Subject: subject, KeyHashes: hashes, Limit: body.Limit})
	if errors.Is(err, store.ErrInvalid) {
		writeError(w, signal.NewError(signal.CodeInvalidField, err.Error()))
		return
	}
	if err != nil {
		a.o.Logger.Error("search failed", "err", err)
		writeError(w, signal.NewError(signal.CodeInternal, "search failed"))
		return
	}
	if hits == nil {
		hits = []store.Hit{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{"hits": hits})
}
