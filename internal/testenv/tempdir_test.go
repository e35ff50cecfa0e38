package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// RemoveTree deletes a nested tree; an absent one is not an error.
func TestRemoveTree(t *testing.T) {
	tree := tree(t)
	if err := RemoveTree(tree); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(tree); !os.IsNotExist(err) {
		t.Errorf("%s is still there: %v", tree, err)
	}
	if err := RemoveTree(tree); err != nil {
		t.Errorf("an absent tree: %v", err)
	}
}

// RemoveTree deletes a symlink in the tree, not what it points to.
func TestRemoveTreeKeepsLinkTarget(t *testing.T) {
	outside := TempDir(t)
	kept := filepath.Join(outside, "kept")
	if err := os.WriteFile(kept, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tree := tree(t)
	Symlink(t, outside, filepath.Join(tree, "a", "link"))
	if err := RemoveTree(tree); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(tree); !os.IsNotExist(err) {
		t.Errorf("%s is still there: %v", tree, err)
	}
	if _, err := os.Stat(kept); err != nil {
		t.Errorf("RemoveTree followed a symlink: %v", err)
	}
}

// tree makes a/b with a file at each level.
func tree(t *testing.T) string {
	tree := filepath.Join(TempDir(t), "tree")
	if err := os.MkdirAll(filepath.Join(tree, "a", "b"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"f", "a/f", "a/b/f"} {
		if err := os.WriteFile(filepath.Join(tree, filepath.FromSlash(f)), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return tree
}
