package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/testkit/pgtest"
	"github.com/parleyhq/parley/internal/transcript"
)

// searchFixture: three meetings in two rooms. MT_fr (French, room-fr,
// owned by "owner") and MT_en (English, room-en) were joined with keys
// kfr and ken; MT_bob only by the signed-in "bob".
func searchFixture(t *testing.T, s *DB) *DB {
	t.Helper()
	ctx := context.Background()
	if err := s.CreateRoom(ctx, Room{ID: "room-fr", Owner: "owner", Access: "public", TranscriptionBy: "everyone", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	add := func(id, room, subject, key string, started time.Time, lines ...string) {
		if err := s.CreateMeeting(ctx, transcript.Meeting{ID: id, Title: room, Started: started}); err != nil {
			t.Fatal(err)
		}
		if err := s.GrantMeeting(ctx, Grant{MeetingID: id, RoomID: room, Subject: subject, KeyHash: key, Role: "participant"}); err != nil {
			t.Fatal(err)
		}
		for i, l := range lines {
			spk, text, _ := strings.Cut(l, ": ")
			if _, err := s.AppendSegment(ctx, id, transcript.Segment{SpeakerID: "PA_" + spk, Speaker: spk, Start: float64(10 * i), End: float64(10*i + 5), Text: text}); err != nil {
				t.Fatal(err)
			}
		}
	}
	add("MT_fr", "room-fr", "guest:1", "kfr", day,
		"Claire: Bonjour à tous, passons à l’ordre du jour.",
		"Marc: La réunion de l'Élysée est reportée.",
		"Claire: Le budget est voté à l'unanimité.")
	add("MT_en", "room-en", "guest:2", "ken", day.Add(24*time.Hour),
		"Ada: Let us vote on the budget first.",
		"Bob: The budget vote is postponed; ORDER of the day next.",
		"Ada: Don't forget the minutes.")
	add("MT_bob", "room-bob", "bob", "kbob", day.Add(48*time.Hour),
		"Bob: Secret budget figures for the board.")
	return s
}

func meetingsOf(hits []Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.MeetingID+"@"+strings.TrimSuffix(strings.TrimSuffix(h.Text, "."), "!"))
	}
	return out
}

// TestSearch: accents and case folded, French elisions either way,
// quoted phrases, prefixes, and only the meetings the caller may read.
func TestSearch(t *testing.T) {
	eachStore(t, func(t *testing.T, reopen func() *DB) {
		s := searchFixture(t, reopen())
		ctx := context.Background()
		both := []string{"kfr", "ken"}
		for _, c := range []struct {
			q    string
			keys []string
			subj string
			want []string // meeting@text of every hit, in any order
		}{
			{"ordre du jour", both, "", []string{"MT_fr@Bonjour à tous, passons à l’ordre du jour"}},
			{"l'ordre du jour", both, "", []string{"MT_fr@Bonjour à tous, passons à l’ordre du jour"}},
			{"L’ORDRE", both, "", []string{"MT_fr@Bonjour à tous, passons à l’ordre du jour"}},
			{"elysee", both, "", []string{"MT_fr@La réunion de l'Élysée est reportée"}},
			{"ÉLYSÉE REPORTEE", both, "", []string{"MT_fr@La réunion de l'Élysée est reportée"}},
			{"reunion", both, "", []string{"MT_fr@La réunion de l'Élysée est reportée"}},
			{`"budget vote"`, both, "", []string{"MT_en@The budget vote is postponed; ORDER of the day next"}},
			{"vote budget", both, "", []string{"MT_en@Let us vote on the budget first", "MT_en@The budget vote is postponed; ORDER of the day next", "MT_fr@Le budget est voté à l'unanimité"}}, // voté
			{"unanim*", both, "", []string{"MT_fr@Le budget est voté à l'unanimité"}},
			{"don't", both, "", []string{"MT_en@Don't forget the minutes"}},
			{"budget", []string{"ken"}, "", []string{"MT_en@Let us vote on the budget first", "MT_en@The budget vote is postponed; ORDER of the day next"}},
			{"budget", nil, "bob", []string{"MT_bob@Secret budget figures for the board"}},
			{"budget", nil, "owner", []string{"MT_fr@Le budget est voté à l'unanimité"}}, // owns room-fr
			{"budget", nil, "", nil},
			{"budget", []string{"nokey"}, "", nil},
			{"secret", both, "", nil},
			// Query syntax is only text.
			{"budget OR secret", both, "", nil},
			{"secret OR budget", both, "", nil},
			{"text:secret", both, "", nil},
			{"NEAR(budget secret)", both, "", nil},
			{`"budget`, []string{"ken"}, "", []string{"MT_en@Let us vote on the budget first", "MT_en@The budget vote is postponed; ORDER of the day next"}},
			{"budget'); DELETE FROM segments; --", both, "", nil},
			{"^budget -vote", []string{"ken"}, "", []string{"MT_en@Let us vote on the budget first", "MT_en@The budget vote is postponed; ORDER of the day next"}},
		} {
			hits, err := s.Search(ctx, SearchQuery{Text: c.q, KeyHashes: c.keys, Subject: c.subj})
			if err != nil {
				t.Errorf("%q: %v", c.q, err)
				continue
			}
			got := meetingsOf(hits)
			if strings.Join(sorted(got), "|") != strings.Join(sorted(c.want), "|") {
				t.Errorf("%q (keys %v, subject %q): found %q, want %q", c.q, c.keys, c.subj, got, c.want)
			}
		}
		for _, bad := range []string{"", "   ", `""`, "*", "' - ( ) :", strings.Repeat("a ", 200)} {
			if _, err := s.Search(ctx, SearchQuery{Text: bad, KeyHashes: both}); !errors.Is(err, ErrInvalid) {
				t.Errorf("%q: %v, want ErrInvalid", bad, err)
			}
		}
		// Nothing was harmed by the queries above.
		if tr, err := s.Transcript(ctx, "MT_en"); err != nil || len(tr.Segments) != 3 {
			t.Fatalf("MT_en after the searches: %v", err)
		}
	})
}

// TestPostgresSearchStems: on PostgreSQL a word finds its other forms,
// in French and in English (a plural, a participle), and the form found
// is the one highlighted. (SQLite's index keeps words as they are.)
func TestPostgresSearchStems(t *testing.T) {
	s, err := OpenPostgres(context.Background(), pgtest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	searchFixture(t, s)
	both := []string{"kfr", "ken"}
	for _, c := range []struct {
		q, want, marked string
	}{
		{"réunions", "MT_fr@La réunion de l'Élysée est reportée", "réunion"},
		{"reportées", "MT_fr@La réunion de l'Élysée est reportée", "reportée"},
		{"postpone", "MT_en@The budget vote is postponed; ORDER of the day next", "postponed"},
		{"minute", "MT_en@Don't forget the minutes", "minutes"},
		{"réunions reportées", "MT_fr@La réunion de l'Élysée est reportée", "réunion,reportée"},
	} {
		hits, err := s.Search(context.Background(), SearchQuery{Text: c.q, KeyHashes: both})
		if err != nil {
			t.Fatalf("%q: %v", c.q, err)
		}
		if got := meetingsOf(hits); len(got) != 1 || got[0] != c.want {
			t.Errorf("%q: found %q, want %q", c.q, got, c.want)
			continue
		}
		var marked []string
		for _, p := range hits[0].Parts {
			if p.Match {
				marked = append(marked, p.Text)
			}
		}
		if strings.Join(marked, ",") != c.marked {
			t.Errorf("%q: highlighted %q, want %q", c.q, marked, c.marked)
		}
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestSearchHit: a hit says where it is (meeting, room, date, speaker,
// time) and which words matched.
func TestSearchHit(t *testing.T) {
	eachStore(t, func(t *testing.T, reopen func() *DB) {
		s := searchFixture(t, reopen())
		hits, err := s.Search(context.Background(), SearchQuery{Text: "elysee reportee", KeyHashes: []string{"kfr"}})
		if err != nil || len(hits) != 1 {
			t.Fatalf("%v %v", hits, err)
		}
		h := hits[0]
		if h.MeetingID != "MT_fr" || h.RoomID != "room-fr" || h.Speaker != "Marc" || h.SpeakerID != "PA_Marc" || h.Start != 10 || h.End != 15 ||
			!h.Started.Equal(time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)) {
			t.Errorf("hit: %+v", h)
		}
		var marked []string
		var all string
		for _, p := range h.Parts {
			all += p.Text
			if p.Match {
				marked = append(marked, p.Text)
			}
		}
		if all != h.Text || strings.Join(marked, ",") != "Élysée,reportée" {
			t.Errorf("parts %+v", h.Parts)
		}
	})
}

// TestSearchFollowsEdits: search finds a segment by its current text
// only, and nothing of a deleted meeting.
func TestSearchFollowsEdits(t *testing.T) {
	eachStore(t, func(t *testing.T, reopen func() *DB) {
		s := searchFixture(t, reopen())
		ctx := context.Background()
		keys := []string{"kfr", "ken"}
		err := s.ReplaceSegments(ctx, "MT_en", "PA_Ada", 0, 1, []transcript.Segment{{SpeakerID: "PA_Ada", Speaker: "Ada", Start: 0, End: 5, Text: "Let us vote on the accounts first."}})
		if err != nil {
			t.Fatal(err)
		}
		if hits, _ := s.Search(ctx, SearchQuery{Text: "accounts", KeyHashes: keys}); len(hits) != 1 {
			t.Errorf("the new text is not found: %v", meetingsOf(hits))
		}
		if hits, _ := s.Search(ctx, SearchQuery{Text: "vote first", KeyHashes: keys}); len(hits) != 1 || hits[0].Text != "Let us vote on the accounts first." {
			t.Errorf("vote first: %v", meetingsOf(hits))
		}
		if hits, _ := s.Search(ctx, SearchQuery{Text: `"the budget first"`, KeyHashes: keys}); len(hits) != 0 {
			t.Errorf("the old text is still found: %v", meetingsOf(hits))
		}
		if _, err := s.DeleteMeeting(ctx, "MT_fr"); err != nil {
			t.Fatal(err)
		}
		if hits, _ := s.Search(ctx, SearchQuery{Text: "elysee", KeyHashes: keys, Subject: "owner"}); len(hits) != 0 {
			t.Errorf("a deleted meeting is found: %v", meetingsOf(hits))
		}
	})
}

// TestSearchIndexesEarlierSegments: a database made before the index
// existed has its segments indexed by the migration.
func TestSearchIndexesEarlierSegments(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	searchAt := slices.Index(migrations, searchSchema)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	old := &DB{db: &conn{DB: db}, path: filepath.Join(dir, FileName)}
	if err := old.migrate(ctx, searchAt); err != nil {
		t.Fatal(err)
	}
	old.CreateMeeting(ctx, transcript.Meeting{ID: "MT_old", Started: time.Now()})
	old.GrantMeeting(ctx, Grant{MeetingID: "MT_old", RoomID: "r", Subject: "u", KeyHash: "k", Role: "participant"})
	if _, err := old.AppendSegment(ctx, "MT_old", transcript.Segment{SpeakerID: "a", Speaker: "A", Start: 1, End: 2, Text: "minutes of the old meeting"}); err != nil {
		t.Fatal(err)
	}
	old.Close()
	s := open(t, dir)
	defer s.Close()
	if hits, err := s.Search(ctx, SearchQuery{Text: "old minutes", KeyHashes: []string{"k"}}); err != nil || len(hits) != 1 {
		t.Fatalf("%v %v", meetingsOf(hits), err)
	}
}

// FuzzFTSQuery: whatever is typed, the query either is refused as
// invalid or is one SQLite runs, and it never matches outside its words.
func FuzzFTSQuery(f *testing.F) {
	for _, s := range []string{"ordre du jour", `"budget vote"`, "a OR b", "NEAR(a b)", "col:x", "x*", `"`, "l'a", "*", "-x ^y", "é\u0301", "\x00"} {
		f.Add(s)
	}
	s, err := OpenSQLite(context.Background(), f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	f.Fuzz(func(t *testing.T, q string) {
		_, err := s.Search(context.Background(), SearchQuery{Text: q, KeyHashes: []string{"k"}})
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("%q: %v", q, err)
		}
	})
}

// TestMeetingsList: a caller's meetings, newest first, with their
// length, speakers and the caller's role; nothing without a credential.
func TestMeetingsList(t *testing.T) {
	eachStore(t, func(t *testing.T, reopen func() *DB) {
		s := searchFixture(t, reopen())
		ctx := context.Background()
		s.PutSpeaker(ctx, "MT_fr", transcript.Speaker{ID: "PA_Marc", Name: "Marc"})
		s.PutSpeaker(ctx, "MT_fr", transcript.Speaker{ID: "PA_Claire", Name: "Claire"})
		list, err := s.Meetings(ctx, "", []string{"kfr", "ken", "nokey"}, 0)
		if err != nil || len(list) != 2 {
			t.Fatalf("%+v %v", list, err)
		}
		en, fr := list[0], list[1]
		if en.ID != "MT_en" || fr.ID != "MT_fr" || fr.RoomID != "room-fr" || fr.Duration != 25 || fr.Segments != 3 ||
			strings.Join(fr.Speakers, ",") != "Marc,Claire" || fr.Role != "participant" || len(en.Speakers) != 0 || en.Speakers == nil {
			t.Errorf("list %+v", list)
		}
		if l, _ := s.Meetings(ctx, "owner", nil, 0); len(l) != 1 || l[0].ID != "MT_fr" || l[0].Role != "owner" {
			t.Errorf("the room's owner: %+v", l)
		}
		if l, _ := s.Meetings(ctx, "bob", nil, 0); len(l) != 1 || l[0].ID != "MT_bob" {
			t.Errorf("bob: %+v", l)
		}
		if l, _ := s.Meetings(ctx, "", []string{"kfr", "ken"}, 1); len(l) != 1 || l[0].ID != "MT_en" {
			t.Errorf("limit 1: %+v", l)
		}
		if l, err := s.Meetings(ctx, "", nil, 0); err != nil || len(l) != 0 {
			t.Errorf("no credential: %+v %v", l, err)
		}
	})
}
