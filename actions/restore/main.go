// Command restore brings an ilbvip resource up: VIP, then probe responder, then a self-probe.
package main

import (
	"os"

	"github.com/ilbvip/ilbvip/pkg/app"
)

func main() { os.Exit(app.Main(app.Restore)) }
