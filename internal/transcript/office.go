package transcript

import (
	"archive/zip"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// The word-processor formats: OpenDocument text (what public
// administrations exchange) and Office Open XML. Both are a ZIP of XML
// parts written here by hand: a title, when the meeting started, who
// spoke, then one heading per speaker turn (name and time, so a screen
// reader can move from turn to turn) followed by what was said, and the
// control events in italics where they happened.

// block is one paragraph of a document.
type block struct {
	kind string // title, meta, section (a heading), item, turn (a heading), text, event
	text string
	at   string // the turn's time
}

// document lays a transcript out as paragraphs: a turn is the run of
// one speaker's consecutive segments.
func document(t *Transcript) []block {
	title := t.Meeting.Title
	if title == "" {
		title = t.Meeting.ID
	}
	out := []block{{kind: "title", text: "Transcript: " + title}}
	if !t.Meeting.Started.IsZero() {
		out = append(out, block{kind: "meta", text: "Started " + t.Meeting.Started.UTC().Format("2006-01-02 15:04:05 MST") + "."})
	}
	if len(t.Speakers) > 0 {
		names := make([]string, len(t.Speakers))
		for i, s := range t.Speakers {
			names[i] = s.Name
		}
		out = append(out, block{kind: "meta", text: "Speakers: " + strings.Join(names, ", ") + "."})
	}
	out = append(out, summaryBlocks(t)...)
	out = append(out, block{kind: "section", text: "Transcript"})
	var turn *block
	var turnSpeaker string
	for _, it := range items(t) {
		if it.ev != nil {
			out = append(out, block{kind: "event", text: "[" + clock(it.at, ".")[:8] + "] " + eventText(it.ev) + "."})
			turn = nil
			continue
		}
		s := it.seg
		key := s.SpeakerID + "\x00" + s.Speaker
		if turn == nil || turnSpeaker != key {
			out = append(out, block{kind: "turn", text: s.Speaker, at: clock(s.Start, ".")[:8]}, block{kind: "text"})
			turn, turnSpeaker = &out[len(out)-1], key
		}
		if turn.text != "" {
			turn.text += " "
		}
		turn.text += oneLine.Replace(s.Text)
	}
	return out
}

// summaryBlocks lays out the summary, when there is one: its text, the
// decisions and the action items, each with the times of the segments
// it cites.
func summaryBlocks(t *Transcript) []block {
	if t.Summary == nil {
		return nil
	}
	out := []block{{kind: "section", text: "Summary"}, {kind: "text", text: t.Summary.Text}}
	list := func(title string, items []Item) {
		if len(items) == 0 {
			return
		}
		out = append(out, block{kind: "section", text: title})
		for _, it := range items {
			out = append(out, block{kind: "item", text: "• " + itemText(t, it)})
		}
	}
	list("Decisions", t.Summary.Decisions)
	list("Action items", t.Summary.Actions)
	return out
}

// itemText is a decision or action as one line: what, who, when, and
// the times of the segments it cites.
func itemText(t *Transcript, it Item) string {
	if at := itemTimes(t, it); at != "" {
		return itemBody(it) + " " + at
	}
	return itemBody(it)
}

// itemBody is what, who and when.
func itemBody(it Item) string {
	s := it.Text
	var extra []string
	if it.Who != "" {
		extra = append(extra, it.Who)
	}
	if it.When != "" {
		extra = append(extra, it.When)
	}
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, ", ") + ")"
	}
	return s
}

// itemTimes is "[hh:mm:ss, …]", the times of the segments an item cites.
func itemTimes(t *Transcript, it Item) string {
	var at []string
	for _, id := range it.Segments {
		for _, seg := range t.Segments {
			if seg.ID == id {
				at = append(at, clock(seg.Start, ".")[:8])
				break
			}
		}
	}
	if len(at) == 0 {
		return ""
	}
	return "[" + strings.Join(at, ", ") + "]"
}

// xmlText escapes text for an XML element. Control characters and
// bidirectional controls (which would show words in another order than
// they are read) are dropped; what else XML cannot hold becomes U+FFFD.
func xmlText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 {
			return -1
		}
		return r
	}, s)
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// zipParts writes the parts in order; the first is stored uncompressed
// (OpenDocument requires its mimetype so, first). Times are the
// meeting's start, so the same transcript gives the same bytes.
func zipParts(w io.Writer, modified time.Time, storedFirst bool, parts ...[2]string) error {
	if modified.IsZero() || modified.Year() < 1980 {
		modified = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	zw := zip.NewWriter(w)
	for i, p := range parts {
		h := &zip.FileHeader{Name: p[0], Method: zip.Deflate, Modified: modified.UTC()}
		if i == 0 && storedFirst {
			h.Method = zip.Store
		}
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(fw, p[1]); err != nil {
			return err
		}
	}
	return zw.Close()
}

const odtMime = "application/vnd.oasis.opendocument.text"

func writeODT(w io.Writer, t *Transcript) error {
	var body strings.Builder
	for _, b := range document(t) {
		switch b.kind {
		case "title":
			fmt.Fprintf(&body, `<text:h text:style-name="Title" text:outline-level="1">%s</text:h>`, xmlText(b.text))
		case "section":
			fmt.Fprintf(&body, `<text:h text:style-name="Section" text:outline-level="2">%s</text:h>`, xmlText(b.text))
		case "turn":
			fmt.Fprintf(&body, `<text:h text:style-name="Turn" text:outline-level="3">%s <text:span text:style-name="Time">%s</text:span></text:h>`,
				xmlText(b.text), xmlText(b.at))
		case "event":
			fmt.Fprintf(&body, `<text:p text:style-name="Event">%s</text:p>`, xmlText(b.text))
		default:
			fmt.Fprintf(&body, `<text:p text:style-name="Body">%s</text:p>`, xmlText(b.text))
		}
	}
	const ns = `xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" ` +
		`xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" ` +
		`xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" office:version="1.3"`
	content := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<office:document-content ` + ns + `><office:automatic-styles>` +
		`<style:style style:name="Title" style:family="paragraph"><style:paragraph-properties fo:margin-bottom="0.3cm"/><style:text-properties fo:font-size="18pt" fo:font-weight="bold"/></style:style>` +
		`<style:style style:name="Section" style:family="paragraph"><style:paragraph-properties fo:margin-top="0.5cm" fo:keep-with-next="always"/><style:text-properties fo:font-size="14pt" fo:font-weight="bold"/></style:style>` +
		`<style:style style:name="Turn" style:family="paragraph"><style:paragraph-properties fo:margin-top="0.35cm" fo:keep-with-next="always"/><style:text-properties fo:font-size="11pt" fo:font-weight="bold"/></style:style>` +
		`<style:style style:name="Body" style:family="paragraph"><style:paragraph-properties fo:margin-bottom="0.15cm"/></style:style>` +
		`<style:style style:name="Event" style:family="paragraph"><style:text-properties fo:font-style="italic" fo:color="#555555"/></style:style>` +
		`<style:style style:name="Time" style:family="text"><style:text-properties fo:font-weight="normal" fo:color="#666666"/></style:style>` +
		`</office:automatic-styles><office:body><office:text>` + body.String() + `</office:text></office:body></office:document-content>`
	meta := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<office:document-meta ` + ns + `><office:meta><dc:title>` +
		xmlText(docTitle(t)) + `</dc:title><meta:generator>Parley</meta:generator></office:meta></office:document-meta>`
	manifest := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">` +
		`<manifest:file-entry manifest:full-path="/" manifest:version="1.3" manifest:media-type="` + odtMime + `"/>` +
		`<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>` +
		`<manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/>` +
		`</manifest:manifest>`
	return zipParts(w, t.Meeting.Started, true,
		[2]string{"mimetype", odtMime},
		[2]string{"META-INF/manifest.xml", manifest},
		[2]string{"content.xml", content},
		[2]string{"meta.xml", meta})
}

func docTitle(t *Transcript) string {
	if t.Meeting.Title != "" {
		return "Transcript: " + t.Meeting.Title
	}
	return "Transcript: " + t.Meeting.ID
}

func writeDOCX(w io.Writer, t *Transcript) error {
	var body strings.Builder
	run := func(text, props string) string {
		return `<w:r>` + props + `<w:t xml:space="preserve">` + xmlText(text) + `</w:t></w:r>`
	}
	for _, b := range document(t) {
		switch b.kind {
		case "title":
			body.WriteString(`<w:p><w:pPr><w:pStyle w:val="Title"/></w:pPr>` + run(b.text, "") + `</w:p>`)
		case "section":
			body.WriteString(`<w:p><w:pPr><w:pStyle w:val="Heading2"/></w:pPr>` + run(b.text, "") + `</w:p>`)
		case "turn":
			body.WriteString(`<w:p><w:pPr><w:pStyle w:val="Heading3"/></w:pPr>` + run(b.text+" ", "") +
				run(b.at, `<w:rPr><w:b w:val="0"/><w:color w:val="666666"/></w:rPr>`) + `</w:p>`)
		case "event":
			body.WriteString(`<w:p>` + run(b.text, `<w:rPr><w:i/><w:color w:val="555555"/></w:rPr>`) + `</w:p>`)
		default:
			body.WriteString(`<w:p>` + run(b.text, "") + `</w:p>`)
		}
	}
	const hdr = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n"
	const w14 = `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"`
	const rels = `http://schemas.openxmlformats.org/officeDocument/2006/relationships`
	types := hdr + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
		`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
		`<Default Extension="xml" ContentType="application/xml"/>` +
		`<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>` +
		`<Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>` +
		`<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>` +
		`</Types>`
	pkgRels := hdr + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
		`<Relationship Id="rId1" Type="` + rels + `/officeDocument" Target="word/document.xml"/>` +
		`<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>` +
		`</Relationships>`
	docRels := hdr + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
		`<Relationship Id="rId1" Type="` + rels + `/styles" Target="styles.xml"/></Relationships>`
	style := func(id, name, props, rprops string) string {
		return `<w:style w:type="paragraph" w:styleId="` + id + `"><w:name w:val="` + name + `"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/>` +
			`<w:pPr><w:keepNext/><w:spacing w:before="240" w:after="60"/>` + props + `</w:pPr><w:rPr><w:b/>` + rprops + `</w:rPr></w:style>`
	}
	styles := hdr + `<w:styles ` + w14 + `>` +
		`<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/><w:qFormat/><w:pPr><w:spacing w:after="80"/></w:pPr></w:style>` +
		style("Title", "Title", `<w:outlineLvl w:val="0"/>`, `<w:sz w:val="36"/>`) +
		style("Heading2", "heading 2", `<w:outlineLvl w:val="1"/>`, `<w:sz w:val="28"/>`) +
		style("Heading3", "heading 3", `<w:outlineLvl w:val="2"/>`, `<w:sz w:val="22"/>`) +
		`</w:styles>`
	document := hdr + `<w:document ` + w14 + `><w:body>` + body.String() + `<w:sectPr/></w:body></w:document>`
	created := ""
	if !t.Meeting.Started.IsZero() {
		created = `<dcterms:created xsi:type="dcterms:W3CDTF">` + t.Meeting.Started.UTC().Format(time.RFC3339) + `</dcterms:created>`
	}
	core := hdr + `<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" ` +
		`xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
		`<dc:title>` + xmlText(docTitle(t)) + `</dc:title><dc:creator>Parley</dc:creator>` + created + `</cp:coreProperties>`
	return zipParts(w, t.Meeting.Started, false,
		[2]string{"[Content_Types].xml", types},
		[2]string{"_rels/.rels", pkgRels},
		[2]string{"word/_rels/document.xml.rels", docRels},
		[2]string{"word/document.xml", document},
		[2]string{"word/styles.xml", styles},
		[2]string{"docProps/core.xml", core})
}
