package audiofile_test

import (
	"fmt"
	"io"

	"github.com/parleyhq/parley/internal/audio/audiofile"
)

func ExampleOpen() {
	r, err := audiofile.Open("testdata/seed8k-stereo-u8.wav")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	buf := make([]float32, 512) // 32 ms at 16 kHz
	total := 0
	for {
		n, err := r.Read(buf)
		total += n
		if err == io.EOF {
			break
		}
	}
	info := r.Info()
	fmt.Println(info.Format, info.SampleRate, info.Channels, total, info.Notes)
	// Output: wav 8000 2 1600 [mixed down from 2 channels resampled from 8000 Hz]
}
