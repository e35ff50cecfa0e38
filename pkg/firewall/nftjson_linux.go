package firewall

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// The JSON of `nft -j list ruleset` (libnftables-json(5)), decoded into
// types for what the evaluator reads. Its objects have one key each that
// names the kind ({"rule": {...}}, {"accept": null}, {"payload": {...}});
// values are polymorphic (a port is 22, "ssh", {"range": [..]}, {"set":
// [..]} or "@name"), so a value decodes into nftValue, which keeps its
// kind, and objects into nftExpr, which keeps its keys in order.

// nftDoc is the whole output.
type nftDoc struct {
	Nftables []nftObject `json:"nftables"`
}

// nftEntry is one key of a JSON object and its undecoded value.
type nftEntry struct {
	key string
	raw json.RawMessage
}

// nftObject is an object's keys in sorted order: nft writes one per
// object, and if a newer one writes more, they are still taken in a fixed
// order.
type nftObject []nftEntry

func (o *nftObject) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*o = make(nftObject, 0, len(m))
	for _, k := range sortedKeys(m) {
		*o = append(*o, nftEntry{key: k, raw: m[k]})
	}
	return nil
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

type nftChain struct {
	Family string `json:"family"`
	Table  string `json:"table"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Hook   string `json:"hook"`
	Prio   int    `json:"prio"`
	Policy string `json:"policy"`
}

type nftRule struct {
	Family string      `json:"family"`
	Table  string      `json:"table"`
	Chain  string      `json:"chain"`
	Handle int         `json:"handle"`
	Expr   []nftObject `json:"expr"` // statements
}

// nftSet is a named set or map.
type nftSet struct {
	Family string     `json:"family"`
	Table  string     `json:"table"`
	Name   string     `json:"name"`
	Elem   []nftValue `json:"elem"`
}

// Statements' arguments.
type (
	nftMatch struct {
		Op    string   `json:"op"`
		Left  nftValue `json:"left"`
		Right nftValue `json:"right"`
	}
	nftTarget struct {
		Target string `json:"target"`
	}
	nftXt struct {
		Type string `json:"type"`
		Name string `json:"name"`
	}
	nftVmap struct {
		Key  nftValue `json:"key"`
		Data nftValue `json:"data"`
	}
)

type valueKind int8

const (
	jNull valueKind = iota // null, or absent
	jString
	jNumber
	jBool
	jList
	jObject
)

// nftValue is one JSON value of an expression.
type nftValue struct {
	kind valueKind
	str  string
	num  float64
	b    bool
	list []nftValue
	obj  *nftExpr
}

func (v *nftValue) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case 'n':
		*v = nftValue{}
		return nil
	case '"':
		v.kind = jString
		return json.Unmarshal(b, &v.str)
	case '[':
		v.kind = jList
		return json.Unmarshal(b, &v.list)
	case '{':
		v.kind, v.obj = jObject, &nftExpr{}
		return v.obj.decode(b)
	case 't', 'f':
		v.kind = jBool
		return json.Unmarshal(b, &v.b)
	}
	v.kind = jNumber
	return json.Unmarshal(b, &v.num)
}

// nftExpr is an object value: an expression (payload, meta, ct), a prefix,
// range, set or set element, or a verdict. What it is not is nil.
type nftExpr struct {
	keys    []string // all its keys, in order
	Payload *struct{ Protocol, Field nftValue }
	Meta    *struct{ Key nftValue }
	CT      *struct{ Key nftValue }
	Fib     *struct{ Result, Flags nftValue } // flags: a string or a list
	Exthdr  *struct{ Name, Field nftValue }   // an IPv6 extension header
	And     []nftValue                        // "&": [left, mask]
	Or      []nftValue                        // "|": flags ORed together
	Prefix  *struct{ Addr, Len nftValue }
	Range   []nftValue
	Set     *nftValue
	Elem    *struct{ Val nftValue }
	Jump    *nftTarget // a verdict; Goto too
	Goto    *nftTarget
}

// decode reads the keys it knows; one of another shape than expected is
// left nil, as if absent: the evaluator then cannot judge it.
func (e *nftExpr) decode(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	e.keys = sortedKeys(m)
	e.Payload = decodeAs[struct{ Protocol, Field nftValue }](m["payload"])
	e.Meta = decodeAs[struct{ Key nftValue }](m["meta"])
	e.CT = decodeAs[struct{ Key nftValue }](m["ct"])
	e.Fib = decodeAs[struct{ Result, Flags nftValue }](m["fib"])
	e.Exthdr = decodeAs[struct{ Name, Field nftValue }](m["exthdr"])
	e.Prefix = decodeAs[struct{ Addr, Len nftValue }](m["prefix"])
	if r := decodeAs[[]nftValue](m["range"]); r != nil {
		e.Range = *r
	}
	if a := decodeAs[[]nftValue](m["&"]); a != nil {
		e.And = *a
	}
	if o := decodeAs[[]nftValue](m["|"]); o != nil {
		e.Or = *o
	}
	if _, ok := m["set"]; ok {
		e.Set = &nftValue{}
		_ = json.Unmarshal(m["set"], e.Set) // any JSON value decodes
	}
	e.Elem = decodeAs[struct{ Val nftValue }](m["elem"])
	e.Jump = decodeAs[nftTarget](m["jump"])
	e.Goto = decodeAs[nftTarget](m["goto"])
	return nil
}

// decodeAs decodes raw into a T; nil when it is absent, null or another
// shape.
func decodeAs[T any](raw json.RawMessage) *T {
	if raw == nil || string(bytes.TrimSpace(raw)) == "null" {
		return nil
	}
	t := new(T)
	if json.Unmarshal(raw, t) != nil {
		return nil
	}
	return t
}

// expr is v's object, or an empty one.
func (v nftValue) expr() *nftExpr {
	if v.obj != nil {
		return v.obj
	}
	return &nftExpr{}
}

// text is v's string; "" for another kind.
func (v nftValue) text() string {
	if v.kind == jString {
		return v.str
	}
	return ""
}

// texts is v's strings: one, or a list's.
func texts(v nftValue) []string {
	if v.kind == jString {
		return []string{v.str}
	}
	var out []string
	for _, e := range v.list {
		if e.kind == jString {
			out = append(out, e.str)
		}
	}
	return out
}

// String shows a scalar as fmt.Sprint shows it decoded; a list or object
// as describe does.
func (v nftValue) String() string {
	switch v.kind {
	case jString:
		return v.str
	case jNumber:
		return fmt.Sprint(v.num)
	case jBool:
		return strconv.FormatBool(v.b)
	case jNull:
		return "<nil>"
	}
	return describe(v)
}

// describe renders a value briefly for messages, always the same way.
func describe(v nftValue) string {
	switch v.kind {
	case jObject:
		return describeExpr(v.obj)
	case jList:
		parts := make([]string, len(v.list))
		for i, e := range v.list {
			parts[i] = describe(e)
		}
		return strings.Join(parts, ",")
	case jBool:
		// fib ... oif false, exthdr ... false: nft writes "missing".
		return map[bool]string{true: "exists", false: "missing"}[v.b]
	case jNumber:
		return strconv.Itoa(int(v.num))
	}
	return v.String()
}

// flagsText writes ORed flags as nft does: (fin|syn|rst|ack), or one flag.
func flagsText(v nftValue) string {
	if v.kind != jList {
		return describe(v)
	}
	parts := make([]string, len(v.list))
	for i, e := range v.list {
		parts[i] = describe(e)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "(" + strings.Join(parts, "|") + ")"
}

func describeExpr(e *nftExpr) string {
	switch {
	case e.Payload != nil:
		return fmt.Sprintf("%v %v", e.Payload.Protocol, e.Payload.Field)
	case e.Meta != nil:
		return fmt.Sprintf("meta %v", e.Meta.Key)
	case e.CT != nil:
		return fmt.Sprintf("ct %v", e.CT.Key)
	case e.Fib != nil:
		return fmt.Sprintf("fib %s %v", strings.Join(texts(e.Fib.Flags), " . "), e.Fib.Result)
	case e.Exthdr != nil:
		return strings.TrimSpace(fmt.Sprintf("exthdr %v %s", e.Exthdr.Name, e.Exthdr.Field.text()))
	case e.Prefix != nil:
		return fmt.Sprintf("%v/%v", e.Prefix.Addr, e.Prefix.Len)
	case e.Set != nil:
		return "{" + describe(*e.Set) + "}"
	case len(e.And) == 2:
		return describe(e.And[0]) + " & " + flagsText(e.And[1])
	case e.Or != nil:
		return flagsText(nftValue{kind: jList, list: e.Or})
	case len(e.Range) == 2:
		return describe(e.Range[0]) + "-" + describe(e.Range[1])
	case len(e.keys) > 0:
		return e.keys[0]
	}
	return "map[]"
}
