//go:build !linux && !windows

package lifekeeper

// DefaultRoot is not assumed outside Linux: LKROOT must say where
// LifeKeeper is (LifeKeeper for Windows sets it for the scripts it runs).
var DefaultRoot = ""
