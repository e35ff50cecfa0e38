package lifekeeper

// DefaultRoot is where LifeKeeper for Windows is installed when LKROOT does
// not say otherwise: C:\LK, the installer's default folder (SIOS
// Protection Suite for Windows installation guide, docs.us.sios.com/sps
// for Windows; not checked against a running LifeKeeper for Windows here).
// LifeKeeper sets LKROOT for the scripts it runs, so this matters for an
// admin's own shell. Its ins_list is bin\ins_list.exe below it (Enabled).
// A variable so tests can point it elsewhere.
var DefaultRoot = `C:\LK`
