package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ilbvip/ilbvip/internal/testenv"
)

// BenchmarkLoad is what every action pays before it does anything: a YAML
// file, OCF_RESKEY_* environment and flags merged and validated.
func BenchmarkLoad(b *testing.B) {
	file := filepath.Join(testenv.TempDir(b), "bench.yaml")
	yaml := "# Azure ILB frontend 10.10.5.200, probe TCP 12345\nport: 12345\nallow: [168.63.129.16]\nvip: 10.10.5.200\ninterface: eth1\nmessage: OK\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		b.Fatal(err)
	}
	env := map[string]string{"OCF_RESKEY_drain": "5s", "OCF_RESKEY_protocol": "tcp", "OCF_RESKEY_CRM_meta_timeout": "20000"}
	src := Sources{
		Flags:      map[string]string{"tag": "bench", "conn_timeout": "3s"},
		Env:        func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		ConfigFile: file,
		Euid:       -1,
	}
	if _, err := Load(src); err != nil {
		b.Fatalf("Load: %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(src); err != nil {
			b.Fatal(err)
		}
	}
}
