//go:build tools

// Package tools pins the S3 server the tests build.
package tools

import _ "github.com/versity/versitygw/cmd/versitygw"
