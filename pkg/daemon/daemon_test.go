package daemon

import (
	"errors"
	"strings"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	r := &Record{Pid: 4242, Start: 99, Boot: "b-1", Tag: "lbhc-12345", Port: 12345, Protocol: "tcp",
		VIP: "10.10.5.200/32", Interface: "eth1", Config: "abc"}
	got, err := ParseRecord(r.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if *got != *r {
		t.Fatalf("round trip: %+v != %+v", got, r)
	}
	if !strings.HasPrefix(string(r.Marshal()), "pid=4242\n") {
		t.Errorf("pid is not the first line: %q", r.Marshal())
	}
}

func TestParseRecordCorrupt(t *testing.T) {
	for _, in := range []string{
		"", "garbage", "pid=12\n", "pid=x\nstart=1\ntag=t\n", "pid=1\nstart=1\ntag=t\n",
		"pid=12\nstart=-1\ntag=t\n", "pid=12\npid=13\nstart=1\ntag=t\n", "pid=12\nstart=1\ntag=t\nport=70000\n",
	} {
		if _, err := ParseRecord([]byte(in)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("ParseRecord(%q) = %v, want ErrCorrupt", in, err)
		}
	}
	if _, err := ParseRecord([]byte("pid=12\nstart=1\ntag=t\nfuture=x\n")); err != nil {
		t.Errorf("unknown key from a newer version: %v", err)
	}
}

func TestSpecHashChangesWithSettings(t *testing.T) {
	a := Spec{Tag: "t", Port: 1, Protocol: "tcp"}
	b := a
	b.Message = "x"
	if a.Hash() == b.Hash() || a.Hash() != (Spec{Tag: "t", Port: 1, Protocol: "tcp"}).Hash() {
		t.Error("hash does not follow the settings")
	}
}
