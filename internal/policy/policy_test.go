// Package policy holds tests of rules that span the whole tree, such as
// "no shell anywhere": config values must never reach a shell.
package policy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// shells are programs that would interpret a string as a command line.
var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "/bin/sh": true, "/bin/bash": true,
	"/usr/bin/sh": true, "/usr/bin/bash": true, "cmd": true, "cmd.exe": true, "powershell": true, "powershell.exe": true}

// TestNoShell parses every non-test Go file of the kit and fails on an
// exec.Command / exec.CommandContext whose program is a shell.
func TestNoShell(t *testing.T) {
	root := filepath.Join("..", "..")
	checked := 0
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		checked++
		for _, bad := range shellCalls(fset, f) {
			t.Errorf("%s: runs a shell", bad)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("checked only %d files: wrong root?", checked)
	}
}

// shellCalls lists the positions of exec.Command / exec.CommandContext
// calls in f whose program is a shell.
func shellCalls(fset *token.FileSet, f *ast.File) []string {
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || (sel.Sel.Name != "Command" && sel.Sel.Name != "CommandContext") {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "exec" {
			return true
		}
		arg := 0
		if sel.Sel.Name == "CommandContext" {
			arg = 1
		}
		if len(call.Args) <= arg {
			return true
		}
		if lit, ok := call.Args[arg].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if prog, _ := strconv.Unquote(lit.Value); shells[prog] || shells[filepath.Base(prog)] {
				out = append(out, fset.Position(call.Pos()).String()+" ("+prog+")")
			}
		}
		return true
	})
	return out
}

// TestShellDetector proves TestNoShell can fail.
func TestShellDetector(t *testing.T) {
	src := `package x
import "os/exec"
func a(v string) { exec.Command("sh", "-c", v).Run(); exec.CommandContext(nil, "/bin/bash", v).Run(); exec.Command("ip", v).Run() }`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "x.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := shellCalls(fset, f); len(got) != 2 {
		t.Fatalf("found %v, want the sh and /bin/bash calls", got)
	}
}
