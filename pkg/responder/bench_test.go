package responder

import "testing"

func benchmarkProbe(b *testing.B, proto string, msg, expect []byte) {
	s := start(b, Options{Protocol: proto, Message: msg, HTTPPath: "/health"})
	addr := s.Addr()
	b.Run("sequential", func(b *testing.B) {
		for b.Loop() {
			if err := Probe(proto, addr, "/health", expect, probeTimeout); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := Probe(proto, addr, "/health", expect, probeTimeout); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkTCPProbe(b *testing.B) {
	benchmarkProbe(b, "tcp", []byte("OK\n"), []byte("OK\n"))
}

func BenchmarkHTTPProbe(b *testing.B) {
	benchmarkProbe(b, "http", nil, []byte("OK\n"))
}

func BenchmarkParseRequest(b *testing.B) {
	req := []byte("GET /health?x=1 HTTP/1.1\r\nHost: 10.0.0.4:12345\r\nUser-Agent: Load Balancer Agent\r\n\r\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		if _, _, err := parseRequest(req); err != nil {
			b.Fatal(err)
		}
	}
}
