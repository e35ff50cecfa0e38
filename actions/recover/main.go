// Command recover repairs what quickCheck finds broken in an ilbvip resource, then checks.
package main

import (
	"os"

	"github.com/ilbvip/ilbvip/pkg/app"
)

func main() { os.Exit(app.Main(app.Recover)) }
