package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// searchSchema indexes every segment's text for full-text search (SQLite
// FTS5, an external-content index kept by triggers, so an edited,
// replaced or deleted segment is found by its current text only). The
// unicode61 tokenizer folds case and removes diacritics ("Élysée" is
// found by "elysee"); apostrophes split words, which with the query's
// handling of French elisions makes "l'ordre du jour" find "ordre du
// jour" and the other way round.
const searchSchema = `
CREATE VIRTUAL TABLE segments_fts USING fts5(text, content='segments', content_rowid='id',
	tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER segments_fts_insert AFTER INSERT ON segments BEGIN
	INSERT INTO segments_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER segments_fts_delete AFTER DELETE ON segments BEGIN
	INSERT INTO segments_fts(segments_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER segments_fts_update AFTER UPDATE OF text ON segments BEGIN
	INSERT INTO segments_fts(segments_fts, rowid, text) VALUES ('delete', old.id, old.text);
	INSERT INTO segments_fts(rowid, text) VALUES (new.id, new.text);
END;
INSERT INTO segments_fts(segments_fts) VALUES ('rebuild');
`

// Search limits: a query is a few words, a browser holds the keys of the
// meetings it joined (a thousand is years of meetings).
const (
	MaxQueryLen   = 256
	maxQueryTerms = 16
	MaxSearchKeys = 1000
	maxHits       = 200
)

// SearchQuery is a full-text search over the meetings a caller may read:
// those a meeting key (its hash) opens, and those the signed-in subject
// took part in or whose room they own.
type SearchQuery struct {
	Text      string
	Subject   string
	KeyHashes []string
	Limit     int // 50 when 0, at most 200
}

// Hit is one segment that matches.
type Hit struct {
	MeetingID string    `json:"meeting_id"`
	Title     string    `json:"title"`
	RoomID    string    `json:"room"`
	Started   time.Time `json:"started"`
	SegmentID int64     `json:"segment_id"`
	SpeakerID string    `json:"speaker_id"`
	Speaker   string    `json:"speaker"`
	Start     float64   `json:"start"`
	End       float64   `json:"end"`
	Text      string    `json:"text"`
	// Parts is Text cut where matches start and end, for highlighting.
	Parts []HitPart `json:"parts"`
}

// HitPart is a piece of a hit's text, matched or not.
type HitPart struct {
	Text  string `json:"text"`
	Match bool   `json:"match,omitempty"`
}

// elisions are the French words that lose their vowel before another
// ("l'ordre", "qu'il", "jusqu'à"): a search for "l'ordre du jour" looks
// for "ordre du jour", which the index holds either way.
var elisions = map[string]bool{"l": true, "d": true, "j": true, "m": true, "n": true, "s": true, "t": true, "c": true,
	"qu": true, "jusqu": true, "lorsqu": true, "puisqu": true, "quoiqu": true, "presqu": true}

// queryTerm is one thing to find: a word or a phrase (words in a row),
// the last word a prefix when prefix is set.
type queryTerm struct {
	words  []string
	prefix bool
}

// parseQuery reads what a person typed: words are ANDed, "quoted text"
// is a phrase, a word ending in * matches as a prefix; everything else
// (operators, column filters, brackets, quotes left open) is only text.
// Terms hold letters and digits only, so no input can change a query's
// shape. ErrInvalid when nothing is left to search for or the query is
// too long.
func parseQuery(s string) ([]queryTerm, error) {
	if len(s) > MaxQueryLen {
		return nil, fmt.Errorf("%w: a query of at most %d bytes", ErrInvalid, MaxQueryLen)
	}
	s = strings.NewReplacer("\u2019", "'", "\u02bc", "'", "\u2018", "'", "\u00ab", `"`, "\u00bb", `"`, "\u201c", `"`, "\u201d", `"`).Replace(s)
	var terms []queryTerm
	add := func(text string, prefix bool) {
		if toks := words(text); len(toks) > 0 {
			terms = append(terms, queryTerm{toks, prefix})
		}
	}
	for i, part := range strings.Split(s, `"`) {
		if i%2 == 1 { // inside quotes: one phrase
			add(part, false)
			continue
		}
		for _, w := range strings.Fields(part) {
			add(w, strings.HasSuffix(w, "*") && len(strings.TrimRight(w, "*")) >= 2)
		}
	}
	if len(terms) == 0 {
		return nil, fmt.Errorf("%w: nothing to search for", ErrInvalid)
	}
	if len(terms) > maxQueryTerms {
		return nil, fmt.Errorf("%w: at most %d words or phrases", ErrInvalid, maxQueryTerms)
	}
	return terms, nil
}

// FTSQuery turns what a person typed (parseQuery) into an FTS5 query:
// every term a quoted string.
func FTSQuery(s string) (string, error) {
	terms, err := parseQuery(s)
	if err != nil {
		return "", err
	}
	out := make([]string, len(terms))
	for i, t := range terms {
		out[i] = `"` + strings.Join(t.words, " ") + `"`
		if t.prefix {
			out[i] += "*"
		}
	}
	return strings.Join(out, " AND "), nil
}

// tsQuery turns what a person typed (parseQuery) into PostgreSQL's
// to_tsquery syntax: every word a quoted lexeme, phrases joined by <->.
func tsQuery(s string) (string, error) {
	terms, err := parseQuery(s)
	if err != nil {
		return "", err
	}
	out := make([]string, len(terms))
	for i, t := range terms {
		ws := make([]string, len(t.words))
		for j, w := range t.words {
			ws[j] = "'" + w + "'"
		}
		if t.prefix {
			ws[len(ws)-1] += ":*"
		}
		out[i] = "(" + strings.Join(ws, " <-> ") + ")"
	}
	return strings.Join(out, " & "), nil
}

// words splits text into the tokens the index holds (letters and digits),
// dropping a French elision before an apostrophe.
func words(text string) []string {
	var out []string
	var cur strings.Builder
	flush := func(apostrophe bool) {
		w := cur.String()
		cur.Reset()
		if w == "" || apostrophe && elisions[strings.ToLower(w)] {
			return
		}
		out = append(out, w)
	}
	for _, r := range text {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			cur.WriteRune(r)
		default:
			flush(r == '\'')
		}
	}
	flush(false)
	return out
}

// Search finds the segments that match q.Text in the meetings the
// caller may read, the newest first (the index is read backwards, so a
// common word costs what 50 matches cost, not what all of them would:
// BenchmarkSearch1000Meetings: 1.3 ms for a common word over 1.2 M
// sentences, where ranking every match by relevance (bm25) took 624 ms
// in the same run). A caller
// with no credential finds nothing.
func (s *DB) Search(ctx context.Context, q SearchQuery) ([]Hit, error) {
	return s.search(ctx, q, "f.rowid DESC")
}

// search is Search with its order (BenchmarkSearch1000Meetings compares
// it with relevance, bm25(segments_fts)).
func (s *DB) search(ctx context.Context, q SearchQuery, order string) ([]Hit, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	toQuery := FTSQuery
	if s.db.pg {
		toQuery = tsQuery
	}
	match, err := toQuery(q.Text)
	if err != nil {
		return nil, err
	}
	if len(q.KeyHashes) > MaxSearchKeys {
		return nil, fmt.Errorf("%w: at most %d meeting keys", ErrInvalid, MaxSearchKeys)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, maxHits)
	if q.Subject == "" && len(q.KeyHashes) == 0 {
		return nil, nil
	}
	args := append(readableArgs(q.Subject, q.KeyHashes), match, limit)
	var rows *sql.Rows
	if s.db.pg {
		// Highlighted under each configuration in turn: a word marked
		// twice has its markers twice, which highlightParts reads once.
		headline := "s.text"
		for _, c := range []string{"parley", "parley_fr", "parley_en"} {
			headline = "ts_headline('" + c + "', " + headline + `, q.query, 'HighlightAll=true, StartSel=` + "\x02" + `, StopSel=` + "\x03" + `')`
		}
		rows, err = s.db.QueryContext(ctx, s.db.readableCTE()+`, q(query) AS (SELECT parley_tsquery(?))
		SELECT s.id, s.meeting_id, m.title, m.started,
			coalesce((SELECT min(room_id) FROM meeting_access WHERE meeting_id = s.meeting_id), ''),
			s.speaker_id, s.speaker, s.start_s, s.end_s, s.text, `+headline+`
		FROM q, segments s
		JOIN meetings m ON m.id = s.meeting_id
		WHERE parley_tsvector(s.text) @@ q.query AND s.meeting_id IN (SELECT meeting_id FROM readable)
		ORDER BY `+strings.NewReplacer("f.rowid", "s.id").Replace(order)+`
		LIMIT ?`, args...)
	} else {
		rows, err = s.db.QueryContext(ctx, s.db.readableCTE()+`
		SELECT s.id, s.meeting_id, m.title, m.started,
			coalesce((SELECT min(room_id) FROM meeting_access WHERE meeting_id = s.meeting_id), ''),
			s.speaker_id, s.speaker, s.start_s, s.end_s, s.text,
			highlight(segments_fts, 0, char(2), char(3))
		FROM segments_fts f
		JOIN segments s ON s.id = f.rowid
		JOIN meetings m ON m.id = s.meeting_id
		WHERE segments_fts MATCH ? AND s.meeting_id IN (SELECT meeting_id FROM readable)
		ORDER BY `+order+`
		LIMIT ?`, args...)
	}
	if err != nil {
		return nil, fmt.Errorf("store: search: %w", err)
	}
	defer rows.Close()
	var out []Hit
	for rows.Next() {
		var h Hit
		var started, marked string
		if err := rows.Scan(&h.SegmentID, &h.MeetingID, &h.Title, &started, &h.RoomID,
			&h.SpeakerID, &h.Speaker, &h.Start, &h.End, &h.Text, &marked); err != nil {
			return nil, fmt.Errorf("store: search: %w", err)
		}
		h.Started, _ = time.Parse(time.RFC3339Nano, started)
		h.Parts = highlightParts(marked)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: search: %w", err)
	}
	return out, nil
}

// readableCTE is the meetings a caller may read, with the role each
// grant gives ("owner" for the owner of the meeting's room): those a key
// hash opens (a JSON array), those the signed-in subject took part in,
// and those of rooms the subject owns. Its arguments: readableArgs.
func (c *conn) readableCTE() string {
	return `WITH readable(meeting_id, role) AS (
		SELECT a.meeting_id, CASE WHEN ? != '' AND r.owner = ? THEN 'owner' ELSE a.role END
		FROM meeting_access a LEFT JOIN rooms r ON r.id = a.room_id
		WHERE a.key_hash IN (SELECT value FROM ` + c.jsonEach() + `)
			OR (? != '' AND a.subject = ?)
			OR (? != '' AND r.owner = ?)
	)`
}

func readableArgs(subject string, keyHashes []string) []any {
	keys, _ := json.Marshal(keyHashes)
	if keyHashes == nil {
		keys = []byte("[]")
	}
	return []any{subject, subject, string(keys), subject, subject, subject, subject}
}

// highlightParts cuts FTS5's highlight() output (matches between \x02
// and \x03) into parts.
func highlightParts(marked string) []HitPart {
	var parts []HitPart
	match := false
	for marked != "" {
		i := strings.IndexAny(marked, "\x02\x03")
		if i < 0 {
			i = len(marked)
		}
		if i > 0 {
			parts = append(parts, HitPart{Text: marked[:i], Match: match})
		}
		if i == len(marked) {
			break
		}
		match = marked[i] == '\x02'
		marked = marked[i+1:]
	}
	return parts
}
