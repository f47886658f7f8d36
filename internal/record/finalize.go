package record

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/parleyhq/parley/internal/objects"
)

// Finalize finishes a meeting's recording after it stopped, or after a
// crash left it open (active says the meeting records right now: then
// there is nothing to do yet). Each file is checked from its first byte:
// a torn tail (the page or frame being written when the process died) is
// cut off, so every file reads cleanly to its end, and the manifest's end
// times and sizes are set from what the files hold. Running it twice
// changes nothing the second time.
func Finalize(st objects.Store, meetingID string, active bool) error {
	man, err := ReadManifest(st, meetingID)
	if err != nil {
		return err
	}
	if active {
		return nil
	}
	if !man.Complete {
		recoverManifest(man)
	}
	for i := range man.Files {
		f := &man.Files[i]
		key := meetingID + "/" + f.Name
		valid, dur, err := scanFile(st, key, f.Format)
		if errors.Is(err, objects.ErrNotFound) {
			continue // never created, or deleted by hand
		}
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		if valid < f.Bytes || man.Interrupted {
			if t, ok := st.(objects.Truncater); ok {
				if err := t.Truncate(key, valid); errors.Is(err, objects.ErrNotFound) {
					return nil // the meeting was deleted meanwhile
				} else if err != nil {
					return err
				}
			}
			f.Bytes = valid
			if dur >= 0 {
				f.End = ms(f.Start + dur)
			}
		}
	}
	b, err := man.encode()
	if err != nil {
		return err
	}
	if r, ok := st.(objects.Replacer); ok {
		// The meeting may have been deleted while its files were read:
		// then it stays deleted.
		if err := r.Replace(ManifestKey(meetingID), b); err == nil || !errors.Is(err, objects.ErrNotFound) {
			return err
		}
		return nil
	}
	return st.Put(ManifestKey(meetingID), b)
}

// scanFile returns how many leading bytes of a recording file are whole
// pages (Ogg) or frames (IVF), and the media time they hold in seconds
// (-1 when the format does not say).
func scanFile(st objects.Store, key, format string) (valid int64, dur float64, err error) {
	rd, err := st.Open(key)
	if err != nil {
		return 0, -1, err
	}
	defer rd.Close()
	r := bufio.NewReaderSize(rd, 64<<10)
	switch format {
	case "ogg":
		return scanOgg(r)
	case "ivf":
		return scanIVF(r)
	default:
		n, err := io.Copy(io.Discard, r)
		return n, -1, err
	}
}

// scanOgg walks Ogg pages: each has a 27-byte header, its lacing values
// and a body of their sum.
func scanOgg(r io.Reader) (int64, float64, error) {
	var valid int64
	granule := int64(-1)
	hdr := make([]byte, 27)
	body := make([]byte, 255*255)
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			break
		}
		if string(hdr[:4]) != "OggS" {
			break
		}
		lacing := body[:hdr[26]]
		if _, err := io.ReadFull(r, lacing); err != nil {
			break
		}
		n := 0
		for _, l := range lacing {
			n += int(l)
		}
		if _, err := io.ReadFull(r, body[:n]); err != nil {
			break
		}
		valid += int64(27 + len(lacing) + n)
		if g := int64(binary.LittleEndian.Uint64(hdr[6:])); g > 0 {
			granule = g
		}
	}
	if granule < 0 {
		return valid, 0, nil
	}
	return valid, max(0, float64(granule-opusPreSkip)/48000), nil
}

// scanIVF walks IVF frames after the 32-byte header: 12 bytes (size,
// timestamp) and the frame.
func scanIVF(r io.Reader) (int64, float64, error) {
	hdr := make([]byte, 32)
	if _, err := io.ReadFull(r, hdr); err != nil || string(hdr[:4]) != "DKIF" {
		return 0, 0, nil
	}
	rate, scale := binary.LittleEndian.Uint32(hdr[16:]), binary.LittleEndian.Uint32(hdr[20:])
	valid := int64(32)
	var last uint64
	fh := make([]byte, 12)
	for {
		if _, err := io.ReadFull(r, fh); err != nil {
			break
		}
		size := int64(binary.LittleEndian.Uint32(fh))
		if n, err := io.CopyN(io.Discard, r, size); err != nil || n != size {
			break
		}
		valid += 12 + size
		last = binary.LittleEndian.Uint64(fh[4:])
	}
	if rate == 0 {
		return valid, -1, nil
	}
	return valid, float64(last) * float64(scale) / float64(rate), nil
}
