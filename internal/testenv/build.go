package testenv

import (
	"fmt"
	"os"
	"os/exec"
)

// Actions are the kit's four executables.
var Actions = []string{"restore", "remove", "quickCheck", "recover"}

// BuildKit builds the four executables (static, as make build does) into a
// new temporary directory and returns it; the caller removes it. Tests
// that run the real binaries call it from TestMain.
func BuildKit() (string, error) {
	dir, err := os.MkdirTemp("", "ilbvip-bin-")
	if err != nil {
		return "", err
	}
	args := []string{"build", "-tags", "urfave_cli_no_docs", "-o", dir + string(os.PathSeparator)}
	for _, a := range Actions {
		args = append(args, "github.com/ilbvip/ilbvip/actions/"+a)
	}
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("build the executables: %v\n%s", err, out)
	}
	return dir, nil
}
