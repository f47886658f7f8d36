// Package internal_test keeps the import rules of docs/architecture.md
// true: each rule in its "Import rules" table is checked against
// `go list -deps`, tooling stays out of the product, and product files
// stay short enough to read.
package internal_test

import (
	"bufio"
	"bytes"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/parleyhq/parley/"

// pkgs lists the module's packages with their dependencies inside the
// module (test files excluded), by path relative to internal/.
func pkgs(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps=false", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		var deps []string
		for _, d := range f[1:] {
			if strings.HasPrefix(d, module) {
				deps = append(deps, rel(d))
			}
		}
		m[rel(f[0])] = deps
	}
	if len(m) < 20 {
		t.Fatalf("go list found %d packages", len(m))
	}
	return m
}

func rel(p string) string {
	p = strings.TrimPrefix(p, module)
	return strings.TrimPrefix(p, "internal/")
}

// match reports whether pkg matches a rule's pattern ("audio/..." is the
// folder and everything below it).
func match(pattern, pkg string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == pattern
}

// rules reads the "Import rules" table of docs/architecture.md.
func rules(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "## Import rules")
	if !ok {
		t.Fatal(`docs/architecture.md has no "## Import rules" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	r := map[string][]string{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) != 2 || !strings.Contains(cells[0], "`") {
			continue
		}
		pkg := strings.Trim(strings.TrimSpace(cells[0]), "`")
		var allowed []string
		for _, a := range strings.Split(cells[1], ",") {
			if a = strings.Trim(strings.TrimSpace(a), "`"); a != "-" && a != "" {
				allowed = append(allowed, a)
			}
		}
		r[pkg] = allowed
	}
	if len(r) < 10 {
		t.Fatalf("read %d import rules from docs/architecture.md", len(r))
	}
	return r
}

// TestImportRules: every package a rule names depends only on what the
// rule allows.
func TestImportRules(t *testing.T) {
	all := pkgs(t)
	for pattern, allowed := range rules(t) {
		found := false
		for pkg, deps := range all {
			if !match(pattern, pkg) {
				continue
			}
			found = true
		dep:
			for _, d := range deps {
				if match(pattern, d) {
					continue
				}
				for _, a := range allowed {
					if match(a, d) {
						continue dep
					}
				}
				t.Errorf("%s depends on %s, which the rule for %s does not allow (docs/architecture.md)", pkg, d, pattern)
			}
		}
		if !found {
			t.Errorf("rule for %s matches no package", pattern)
		}
	}
}

// TestToolingStaysOut: only tests, testkit itself and cmd/parley's
// loadtest and bench commands import internal/testkit.
func TestToolingStaysOut(t *testing.T) {
	for pkg, deps := range pkgs(t) {
		if match("testkit/...", pkg) || pkg == "cmd/parley" {
			continue
		}
		for _, d := range deps {
			if match("testkit/...", d) {
				t.Errorf("%s depends on %s: tooling in the product", pkg, d)
			}
		}
	}
	files, err := filepath.Glob("../cmd/parley/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cmd/parley files: %v", err)
	}
	for _, f := range files {
		base := filepath.Base(f)
		if strings.HasSuffix(base, "_test.go") || base == "loadtest.go" || strings.HasPrefix(base, "bench_") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); strings.HasPrefix(p, module+"internal/testkit") {
				t.Errorf("cmd/parley/%s imports %s: only loadtest.go and bench_*.go may", base, p)
			}
		}
	}
}

// TestProductFilesAreShort: no product file (non-test Go outside
// internal/testkit) over 600 lines.
func TestProductFilesAreShort(t *testing.T) {
	n := 0
	err := filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testkit" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		if lines := bytes.Count(b, []byte("\n")); lines > 600 {
			t.Errorf("%s has %d lines (at most 600: split it by concern)", path, lines)
		}
		return nil
	})
	if err != nil || n < 50 {
		t.Fatalf("walked %d product files: %v", n, err)
	}
}
