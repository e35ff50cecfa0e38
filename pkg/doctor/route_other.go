//go:build !linux

package doctor

import "github.com/ilbvip/ilbvip/pkg/config"

// foreignLocalRoute: routes are not read on this OS.
func foreignLocalRoute(*config.Config) string { return "" }
