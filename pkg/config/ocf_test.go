package config

import (
	"encoding/xml"
	"os"
	"strings"
	"testing"
)

// The OCF meta-data as Pacemaker reads it.
type ocfAgent struct {
	Name    string `xml:"name,attr"`
	Version string `xml:"version"`
	Params  []struct {
		Name     string `xml:"name,attr"`
		Required string `xml:"required,attr"`
		Unique   string `xml:"unique,attr"`
		Long     string `xml:"longdesc"`
		Short    string `xml:"shortdesc"`
		Content  struct {
			Type    string `xml:"type,attr"`
			Default string `xml:"default,attr"`
		} `xml:"content"`
	} `xml:"parameters>parameter"`
	Actions []struct {
		Name     string `xml:"name,attr"`
		Timeout  string `xml:"timeout,attr"`
		Interval string `xml:"interval,attr"`
	} `xml:"actions>action"`
}

func TestOCFMetadata(t *testing.T) {
	md := OCFMetadata()
	if !strings.Contains(md, "\n<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n") {
		t.Error("meta-data lacks the DOCTYPE line ocf-tester's xmllint --valid needs")
	}
	for _, bad := range []string{`type="select"`, "unique-group", "reloadable", "reload-agent"} {
		if strings.Contains(md, bad) {
			t.Errorf("meta-data contains %q, which ra-api-1.dtd rejects", bad)
		}
	}
	var a ocfAgent
	if err := xml.Unmarshal([]byte(md), &a); err != nil {
		t.Fatalf("meta-data is not well-formed XML: %v", err)
	}
	if a.Name != "ilbvip" || a.Version != "1.0" {
		t.Errorf("resource-agent name %q version %q", a.Name, a.Version)
	}
	byName := map[string]int{}
	for i, p := range a.Params {
		byName[p.Name] = i
	}
	for _, p := range append(append([]Param{}, Params...), ocfAgentParams...) {
		i, ok := byName[p.Name]
		if !ok {
			t.Errorf("parameter %s missing from meta-data", p.Name)
			continue
		}
		got := a.Params[i]
		want := map[Kind]string{Integer: "integer", Boolean: "boolean"}[p.Kind]
		if want == "" {
			want = "string"
		}
		if got.Content.Type != want {
			t.Errorf("%s: content type %q, want %q", p.Name, got.Content.Type, want)
		}
		if (got.Unique == "1") != p.Unique {
			t.Errorf("%s: unique=%q, table says %v", p.Name, got.Unique, p.Unique)
		}
		short := p.Short
		if p.Default == "" && p.DefaultText != "" {
			short += " (default " + p.DefaultText + ")"
		}
		if got.Short != short || !strings.HasPrefix(got.Long, p.Long) {
			t.Errorf("%s: descriptions differ from the table", p.Name)
		}
		if p.Name != "state_dir" && got.Content.Default != p.Default {
			t.Errorf("%s: default %q, table says %q", p.Name, got.Content.Default, p.Default)
		}
	}
	if len(a.Params) != len(Params)+len(ocfAgentParams) {
		t.Errorf("meta-data has %d parameters, want %d", len(a.Params), len(Params)+len(ocfAgentParams))
	}
	for name, req := range map[string]string{"port": "1", "tag": "0", "vip": "0", "interface": "0", "bindir": "0"} {
		if got := a.Params[byName[name]].Required; got != req {
			t.Errorf("%s: required=%q, want %q", name, got, req)
		}
	}
	if d := a.Params[byName["state_dir"]].Content.Default; d != "/run/ilbvip" {
		t.Errorf("state_dir default %q, want /run/ilbvip whatever OS renders it", d)
	}
	actions := map[string]string{}
	for _, ac := range a.Actions {
		actions[ac.Name] = ac.Timeout + "/" + ac.Interval
	}
	for name, want := range map[string]string{
		"start": "20s/", "stop": "20s/", "monitor": "20s/10s", "recover": "20s/", "validate-all": "10s/", "meta-data": "5s/",
	} {
		if actions[name] != want {
			t.Errorf("action %s: timeout/interval %q, want %q", name, actions[name], want)
		}
	}
}

func TestOCFAgentMetadataIsFresh(t *testing.T) {
	b, err := os.ReadFile("../../kit/ocf/ilbvip")
	if err != nil {
		t.Fatal(err)
	}
	want, err := UpdateOCFAgent(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if want != string(b) {
		t.Fatal("kit/ocf/ilbvip's meta-data is stale: run make docs")
	}
}

func TestUpdateOCFAgent(t *testing.T) {
	in := "a\n\t" + OCFBegin + "\n\tstale-body\n\t" + OCFEnd + "\nb\n"
	out, err := UpdateOCFAgent(in)
	if err != nil {
		t.Fatal(err)
	}
	wantPrefix := "a\n\t" + OCFBegin + "\n\tcat <<'" + ocfHereDoc + "'\n<?xml"
	wantSuffix := "</resource-agent>\n" + ocfHereDoc + "\n\t" + OCFEnd + "\nb\n"
	if !strings.HasPrefix(out, wantPrefix) || !strings.HasSuffix(out, wantSuffix) || strings.Contains(out, "stale-body") {
		t.Errorf("UpdateOCFAgent:\n%s", out)
	}
	if again, _ := UpdateOCFAgent(out); again != out {
		t.Error("UpdateOCFAgent is not idempotent")
	}
	if _, err := UpdateOCFAgent("no markers\n"); err == nil {
		t.Error("no error without markers")
	}
	for _, line := range strings.Split(OCFMetadata(), "\n") {
		if line == ocfHereDoc {
			t.Fatal("a meta-data line would end the here-doc early")
		}
	}
}
