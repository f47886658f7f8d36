package signal

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// These helpers read the source of this package and of package room, so
// that the completeness checks of the golden tests find a new message
// type, room event or wire struct without anyone listing it by hand.

// parseDir parses the non-test Go files of a package directory.
func parseDir(t *testing.T, dir string) []*ast.File {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// roomEventTypes lists the types of package room that implement
// room.Event (the receivers of its unexported event method).
func roomEventTypes(t *testing.T) []string {
	var names []string
	for _, f := range parseDir(t, "../room") {
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || fn.Name.Name != "event" {
				continue
			}
			recv := fn.Recv.List[0].Type
			if star, ok := recv.(*ast.StarExpr); ok {
				recv = star.X
			}
			names = append(names, recv.(*ast.Ident).Name)
		}
	}
	if len(names) == 0 {
		t.Fatal("no room event types found: has the Event interface changed?")
	}
	sort.Strings(names)
	return names
}

// wireStructs lists the struct types of this package whose first field
// is tagged json:"type": the messages of the protocol.
func wireStructs(t *testing.T) []string {
	var names []string
	for _, f := range parseDir(t, ".") {
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok || len(st.Fields.List) == 0 || st.Fields.List[0].Tag == nil {
				return true
			}
			tag, err := strconv.Unquote(st.Fields.List[0].Tag.Value)
			if err == nil && strings.Split(reflect.StructTag(tag).Get("json"), ",")[0] == "type" {
				names = append(names, ts.Name.Name)
			}
			return true
		})
	}
	return names
}

// typeConstants lists the values of this package's Type* string
// constants: every message type, client or server.
func typeConstants(t *testing.T) []string {
	var values []string
	for _, f := range parseDir(t, ".") {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Type") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, _ := strconv.Unquote(lit.Value)
						values = append(values, v)
					}
				}
			}
		}
	}
	if len(values) < 20 {
		t.Fatalf("found only %d Type constants", len(values))
	}
	return values
}
