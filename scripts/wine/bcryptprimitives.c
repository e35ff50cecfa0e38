/*
 * bcryptprimitives.dll for Wine 8, test use only.
 *
 * Go 1.22 and later Windows binaries call ProcessPrng from
 * bcryptprimitives.dll at start-up (Windows 10 and later have it); Wine 8
 * has no such DLL, so every Go .exe stops with "bcryptprimitives.dll not
 * found". This DLL exports ProcessPrng and fills the buffer through
 * advapi32's SystemFunction036 (RtlGenRandom), which Wine has.
 * scripts/wine/prefix.sh builds it with x86_64-w64-mingw32-gcc and copies
 * it into a throwaway prefix's system32; it is never shipped.
 */
#include <windows.h>

typedef BOOLEAN (WINAPI *rtlgenrandom_fn)(PVOID, ULONG);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	static rtlgenrandom_fn gen;
	if (!gen) {
		HMODULE m = LoadLibraryA("advapi32.dll");
		if (!m)
			return FALSE;
		gen = (rtlgenrandom_fn)(void *)GetProcAddress(m, "SystemFunction036");
		if (!gen)
			return FALSE;
	}
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!gen(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
