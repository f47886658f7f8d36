package transcript

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// Format is an export format.
type Format string

// The export formats. Each is a standard exchange format that other tools
// read (captions, subtitles, diarization scoring), except txt which is for
// people.
const (
	JSON     Format = "json"
	VTT      Format = "vtt"
	SRT      Format = "srt"
	Markdown Format = "md"
	Text     Format = "txt"
	RTTM     Format = "rttm"
	ODT      Format = "odt"  // OpenDocument text
	DOCX     Format = "docx" // Office Open XML
)

// Formats lists every export format.
var Formats = []Format{JSON, VTT, SRT, Markdown, Text, RTTM, ODT, DOCX}

// ErrFormat reports an unknown export format.
var ErrFormat = errors.New("unknown transcript format")

// ParseFormat accepts a format name as given on a command line or in a URL.
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimPrefix(s, ".")))
	if f == "markdown" {
		f = Markdown
	}
	for _, k := range Formats {
		if f == k {
			return f, nil
		}
	}
	return "", fmt.Errorf("%w %q (want json, vtt, srt, md, txt, rttm, odt or docx)", ErrFormat, s)
}

// ContentType is the media type to serve a format with.
func (f Format) ContentType() string {
	switch f {
	case JSON:
		return "application/json"
	case VTT:
		return "text/vtt; charset=utf-8"
	case SRT:
		return "application/x-subrip; charset=utf-8"
	case Markdown:
		return "text/markdown; charset=utf-8"
	case ODT:
		return odtMime
	case DOCX:
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	default:
		return "text/plain; charset=utf-8"
	}
}

// Write exports t in format f. t is written as given: call Sort first.
func Write(w io.Writer, t *Transcript, f Format) error {
	bw := bufio.NewWriter(w)
	var err error
	switch f {
	case JSON:
		err = writeJSON(bw, t)
	case VTT:
		err = writeVTT(bw, t)
	case SRT:
		err = writeSRT(bw, t)
	case Markdown:
		err = writeMarkdown(bw, t)
	case Text:
		err = writeText(bw, t)
	case RTTM:
		err = writeRTTM(bw, t)
	case ODT:
		err = writeODT(bw, t)
	case DOCX:
		err = writeDOCX(bw, t)
	default:
		return fmt.Errorf("%w %q", ErrFormat, f)
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

func writeJSON(w io.Writer, t *Transcript) error {
	out := *t
	if out.Speakers == nil {
		out.Speakers = []Speaker{}
	}
	out.Segments = make([]Segment, len(t.Segments))
	for i, s := range t.Segments {
		s.Start, s.End = ms(s.Start), ms(s.End)
		words := make([]Word, len(s.Words))
		for j, wd := range s.Words {
			words[j] = Word{Word: wd.Word, Start: ms(wd.Start), End: ms(wd.End)}
		}
		s.Words = words
		out.Segments[i] = s
	}
	if len(t.Events) > 0 {
		out.Events = make([]Event, len(t.Events))
		for i, e := range t.Events {
			e.At = ms(e.At)
			out.Events[i] = e
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false) // a transcript is not HTML; keep "<" readable
	return enc.Encode(out)
}

// clock formats seconds as hh:mm:ss<sep>mmm (WebVTT uses '.', SRT ',').
func clock(sec float64, sep string) string {
	if sec < 0 || math.IsNaN(sec) {
		sec = 0
	}
	m := int64(math.Round(sec * 1000))
	return fmt.Sprintf("%02d:%02d:%02d%s%03d", m/3600000, m/60000%60, m/1000%60, sep, m%1000)
}

// vttEscape escapes cue text: '&', '<' and '>' are markup in WebVTT
// (W3C WebVTT §4.2.2), and escaping '>' also keeps "-->" out of cues.
var vttEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\n", " ", "\r", " ")

// oneLine keeps a cue's text on one line: a blank line ends a cue in both
// WebVTT and SRT.
var oneLine = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

// srtText also keeps the timing arrow out of SRT cue text, which naive
// SRT readers take for a timing line.
var srtText = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "-->", "->")

func writeVTT(w io.Writer, t *Transcript) error {
	fmt.Fprint(w, "WEBVTT\n")
	for i, s := range t.Segments {
		fmt.Fprintf(w, "\n%d\n%s --> %s\n<v %s>%s\n", i+1, clock(s.Start, "."), clock(endOf(s), "."),
			vttEscape.Replace(s.Speaker), vttEscape.Replace(s.Text))
	}
	return nil
}

func writeSRT(w io.Writer, t *Transcript) error {
	for i, s := range t.Segments {
		if i > 0 {
			fmt.Fprint(w, "\n")
		}
		fmt.Fprintf(w, "%d\n%s --> %s\n%s: %s\n", i+1, clock(s.Start, ","), clock(endOf(s), ","),
			srtText.Replace(s.Speaker), srtText.Replace(s.Text))
	}
	return nil
}

// endOf keeps cue end after cue start, which players require.
func endOf(s Segment) float64 {
	if s.End < s.Start {
		return s.Start
	}
	return s.End
}

// item is a segment or an event, for the formats that show both in time
// order (md, txt).
type item struct {
	at  float64
	seg *Segment
	ev  *Event
}

func items(t *Transcript) []item {
	out := make([]item, 0, len(t.Segments)+len(t.Events))
	i, j := 0, 0
	for i < len(t.Segments) || j < len(t.Events) {
		if j >= len(t.Events) || (i < len(t.Segments) && t.Segments[i].Start <= t.Events[j].At) {
			out = append(out, item{at: t.Segments[i].Start, seg: &t.Segments[i]})
			i++
		} else {
			out = append(out, item{at: t.Events[j].At, ev: &t.Events[j]})
			j++
		}
	}
	return out
}

func eventText(e *Event) string {
	who := e.Speaker
	if who == "" {
		who = e.SpeakerID
	}
	switch e.Kind {
	case TranscriptionOn:
		return "transcription started"
	case TranscriptionOff:
		return "transcription stopped"
	case OptOut:
		return who + " opted out of transcription; their speech is not transcribed"
	case OptIn:
		return who + " opted back in to transcription"
	case AudioDropped:
		return "recogniser overloaded: " + e.Detail + " of " + who + "'s audio not transcribed"
	case Joined:
		return who + " joined"
	case Left:
		return who + " left"
	}
	return string(e.Kind)
}

// mdEscape keeps speech text from turning into Markdown markup.
var mdEscape = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`, "<", `\<`, "#", `\#`, "\n", " ", "\r", " ")

func writeMarkdown(w io.Writer, t *Transcript) error {
	title := t.Meeting.Title
	if title == "" {
		title = t.Meeting.ID
	}
	fmt.Fprintf(w, "# Transcript: %s\n", mdEscape.Replace(title))
	if !t.Meeting.Started.IsZero() {
		fmt.Fprintf(w, "\nStarted %s.\n", t.Meeting.Started.UTC().Format("2006-01-02 15:04:05 MST"))
	}
	if len(t.Speakers) > 0 {
		names := make([]string, len(t.Speakers))
		for i, s := range t.Speakers {
			names[i] = mdEscape.Replace(s.Name)
		}
		fmt.Fprintf(w, "\nSpeakers: %s.\n", strings.Join(names, ", "))
	}
	if s := t.Summary; s != nil {
		fmt.Fprintf(w, "\n## Summary\n\n%s\n", mdEscape.Replace(s.Text))
		for _, part := range []struct {
			title string
			items []Item
		}{{"Decisions", s.Decisions}, {"Action items", s.Actions}} {
			if len(part.items) == 0 {
				continue
			}
			fmt.Fprintf(w, "\n## %s\n\n", part.title)
			for _, it := range part.items {
				fmt.Fprintf(w, "- %s\n", strings.TrimSpace(mdEscape.Replace(itemBody(it))+" "+itemTimes(t, it)))
			}
		}
		fmt.Fprint(w, "\n## Transcript\n")
	}
	for _, it := range items(t) {
		if it.ev != nil {
			fmt.Fprintf(w, "\n*[%s] %s.*\n", clock(it.at, "."), mdEscape.Replace(eventText(it.ev)))
			continue
		}
		fmt.Fprintf(w, "\n**%s** [%s]: %s\n", mdEscape.Replace(it.seg.Speaker), clock(it.seg.Start, "."), mdEscape.Replace(it.seg.Text))
	}
	return nil
}

func writeText(w io.Writer, t *Transcript) error {
	for _, it := range items(t) {
		if it.ev != nil {
			fmt.Fprintf(w, "[%s] -- %s --\n", clock(it.at, "."), oneLine.Replace(eventText(it.ev)))
			continue
		}
		fmt.Fprintf(w, "[%s - %s] %s: %s\n", clock(it.seg.Start, "."), clock(endOf(*it.seg), "."),
			oneLine.Replace(it.seg.Speaker), oneLine.Replace(it.seg.Text))
	}
	return nil
}

// rttmField makes a name one RTTM field: fields are space separated.
func rttmField(s string) string {
	s = strings.Join(strings.Fields(s), "_")
	if s == "" {
		return "<NA>"
	}
	return s
}

// writeRTTM writes one SPEAKER line per segment (NIST RTTM, as md-eval and
// pyannote read it); the file id is the meeting id.
func writeRTTM(w io.Writer, t *Transcript) error {
	id := rttmField(t.Meeting.ID)
	for _, s := range t.Segments {
		fmt.Fprintf(w, "SPEAKER %s 1 %.3f %.3f <NA> <NA> %s <NA> <NA>\n", id, ms(s.Start), ms(ms(endOf(s))-ms(s.Start)), rttmField(s.Speaker))
	}
	return nil
}
