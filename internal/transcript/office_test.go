package transcript

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// hostile is a transcript whose text holds what XML must escape or cannot
// hold at all.
func hostile() *Transcript {
	t := sample()
	t.Segments = append(t.Segments,
		Segment{SpeakerID: "p4", Speaker: "Élodie <b>&amp;", Start: 4000, End: 4001, Text: "ctrl \x01\x08 chars ]]> \u202eevil\u202c and \uFFFE end"})
	t.Sort()
	for i := range t.Segments {
		t.Segments[i].ID = int64(i + 1)
	}
	t.Summary = &Summary{Language: "en", Text: "Ada proposed to go forward; bob agreed.",
		Decisions: []Item{{Text: "Go forward ten meters", Segments: []int64{1}}},
		Actions:   []Item{{Text: "Send the minutes", Who: "bob", When: "Friday", Segments: []int64{2, 99}}}}
	return t
}

// xmlWords is the text of an XML part, elements dropped.
func xmlWords(t *testing.T, name string, data []byte) string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(data))
	var b strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return b.String()
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", name, err)
		}
		switch v := tok.(type) {
		case xml.CharData:
			b.Write(v)
		case xml.EndElement:
			if v.Name.Local == "p" || v.Name.Local == "h" {
				b.WriteString("\n")
			}
		}
	}
}

// TestOfficeExports: ODT and DOCX are ZIPs of well-formed XML parts that
// hold every speaker turn with its time and text (escaped, never
// markup), the events, and (ODT) the mimetype stored first.
func TestOfficeExports(t *testing.T) {
	for _, c := range []struct {
		f    Format
		main string
	}{{ODT, "content.xml"}, {DOCX, "word/document.xml"}} {
		var buf bytes.Buffer
		if err := Write(&buf, hostile(), c.f); err != nil {
			t.Fatal(err)
		}
		zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatalf("%s: %v", c.f, err)
		}
		if c.f == ODT && (zr.File[0].Name != "mimetype" || zr.File[0].Method != zip.Store) {
			t.Errorf("odt: first part %s (method %d)", zr.File[0].Name, zr.File[0].Method)
		}
		var text string
		for _, f := range zr.File {
			rc, _ := f.Open()
			data, _ := io.ReadAll(rc)
			rc.Close()
			if strings.HasSuffix(f.Name, ".xml") || strings.HasSuffix(f.Name, ".rels") {
				words := xmlWords(t, string(c.f)+":"+f.Name, data)
				if f.Name == c.main {
					text = words
				}
			}
		}
		for _, want := range []string{"Transcript: Weekly sync", "Ada Lovelace 00:00:00", "go forward ten meters", "bob 00:00:02",
			"yes <exactly> & more", "Ada Lovelace 01:02:05", "see you --> next *week*", "carol opted out of transcription",
			"Élodie <b>&amp; 01:06:40", "ctrl  chars ]]> evil and \uFFFD end",
			"Summary\nAda proposed to go forward; bob agreed.\nDecisions\n• Go forward ten meters [00:00:00]\nAction items\n• Send the minutes (bob, Friday) [00:00:02]\nTranscript\n"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q:\n%s", c.f, want, text)
			}
		}
	}
}

// TestOfficeExportsOpenInLibreOffice: LibreOffice converts both to PDF
// and the PDF holds the transcript's words.
func TestOfficeExportsOpenInLibreOffice(t *testing.T) {
	soffice, err := exec.LookPath("soffice")
	if err != nil {
		t.Fatal("LibreOffice (soffice) is not installed: scripts/setup-debian.sh installs libreoffice-writer-nogui")
	}
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Fatal("pdftotext is not installed: scripts/setup-debian.sh installs poppler-utils")
	}
	dir := t.TempDir()
	var files []string
	for _, f := range []Format{ODT, DOCX} {
		var buf bytes.Buffer
		if err := Write(&buf, hostile(), f); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "meeting."+string(f))
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	for _, path := range files {
		out := filepath.Join(dir, strings.ReplaceAll(filepath.Base(path), ".", "-"))
		cmd := exec.Command(soffice, append([]string{"-env:UserInstallation=file://" + filepath.Join(dir, "profile"),
			"--headless", "--convert-to", "pdf", "--outdir", out}, path)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("soffice %s: %v\n%s", filepath.Base(path), err, b)
		}
		pdf := filepath.Join(out, "meeting.pdf")
		b, err := exec.Command("pdftotext", "-layout", pdf, "-").CombinedOutput()
		if err != nil {
			t.Fatalf("%s: LibreOffice made no readable PDF: %v %s", filepath.Base(path), err, b)
		}
		text := strings.Join(strings.Fields(string(b)), " ")
		for _, want := range []string{"Transcript: Weekly sync", "Ada Lovelace", "go forward ten meters", "yes <exactly> & more",
			"see you --> next *week*", "carol opted out of transcription", "Élodie", "]]> evil and",
			"Ada proposed to go forward; bob agreed.", "Send the minutes (bob, Friday) [00:00:02]"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s as PDF lacks %q:\n%s", filepath.Base(path), want, text)
			}
		}
	}
}
