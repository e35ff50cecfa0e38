// Command remove takes an ilbvip resource down: responder silenced first, then the VIP deleted.
package main

import (
	"os"

	"github.com/ilbvip/ilbvip/pkg/app"
)

func main() { os.Exit(app.Main(app.Remove)) }
