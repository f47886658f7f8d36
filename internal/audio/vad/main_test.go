package vad

import (
	"fmt"
	"os"
	"testing"
)

var testTmp string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "vadtest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testTmp = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

func tempDir() (string, error) { return testTmp, nil }

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
