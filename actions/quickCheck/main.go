// Command quickCheck checks an ilbvip resource (0 healthy, 7 stopped, 1 failed); read-only.
package main

import (
	"os"

	"github.com/ilbvip/ilbvip/pkg/app"
)

func main() { os.Exit(app.Main(app.QuickCheck)) }
