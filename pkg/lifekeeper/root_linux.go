package lifekeeper

// DefaultRoot is where LifeKeeper for Linux (SIOS Protection Suite) is
// installed when LKROOT does not say otherwise: its commands are in
// /opt/LifeKeeper/bin (SIOS Protection Suite for Linux documentation,
// docs.us.sios.com, e.g. "LifeKeeper Core"). A variable so tests can point
// it elsewhere.
var DefaultRoot = "/opt/LifeKeeper"
