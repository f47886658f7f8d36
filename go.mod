module github.com/parleyhq/parley

go 1.26.8

require (
	github.com/mewkiz/flac v1.0.14
	github.com/pion/opus v0.1.0
	github.com/pion/rtp v1.10.6
)

require (
	github.com/icza/bitio v1.1.0 // indirect
	github.com/mewkiz/pkg v0.0.0-20250417130911-3f050ff8c56d // indirect
	github.com/mewpkg/term v0.0.0-20241026122259-37a80af23985 // indirect
	github.com/pion/randutil v0.1.0 // indirect
)
