// Package apidoc holds Silo's OpenAPI 3 document (openapi.yaml, embedded):
// every JSON endpoint the server serves. The web UI serves it as
// /api/openapi.json and renders it as the page /api; the tests check it
// against the transports' route tables and every documented response
// against the document.
package apidoc

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

//go:embed openapi.yaml
var source []byte

// parsed is the document as generic JSON values, once.
var parsed = sync.OnceValues(func() (map[string]any, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(source, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	// The fragments the YAML reuses through anchors are not part of
	// the document.
	delete(doc, "x-silo-fragments")
	return doc, nil
})

// JSON returns the document as JSON (what /api/openapi.json serves).
var JSON = sync.OnceValues(func() ([]byte, error) {
	doc, err := parsed()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	err = enc.Encode(doc)
	return buf.Bytes(), err
})

// Doc is the document as the /api page shows it.
type Doc struct {
	Title, Version, Description string
	Groups                      []Group
	Schemas                     []Schema
}

// Group is the operations of one tag.
type Group struct {
	Name, Description string
	Ops               []Op
}

// Op is one operation.
type Op struct {
	Method, Path, ID, Summary, Description string
	Auth                                   string
	Params                                 []Param
	Body                                   string // the request body's media types and schema
	Responses                              []Response
}

// Param is one parameter.
type Param struct {
	Name, In, Type, Description string
	Required                    bool
}

// Response is one documented status.
type Response struct {
	Status, Description, Schema string
}

// Schema is one component schema with its properties.
type Schema struct {
	Name, Description string
	Props             []Param
}

// methods in the order the page lists them.
var methods = []string{"get", "head", "post", "put", "patch", "delete"}

// Load returns the document for the page.
var Load = sync.OnceValues(func() (Doc, error) {
	raw, err := parsed()
	if err != nil {
		return Doc{}, err
	}
	var d Doc
	info := obj(raw["info"])
	d.Title, d.Version, d.Description = str(info["title"]), str(info["version"]), str(info["description"])
	groups := map[string]*Group{}
	for _, t := range list(raw["tags"]) {
		t := obj(t)
		d.Groups = append(d.Groups, Group{Name: str(t["name"]), Description: str(t["description"])})
	}
	for i := range d.Groups {
		groups[d.Groups[i].Name] = &d.Groups[i]
	}
	comps := obj(raw["components"])
	paths := obj(raw["paths"])
	order, err := pathOrder()
	if err != nil {
		return Doc{}, err
	}
	for _, path := range order {
		item := obj(paths[path])
		for _, m := range methods {
			op, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			o := operation(strings.ToUpper(m), path, op, comps, raw["security"])
			for _, tag := range list(op["tags"]) {
				if g := groups[str(tag)]; g != nil {
					g.Ops = append(g.Ops, o)
				}
			}
		}
	}
	d.Schemas = schemas(comps)
	return d, nil
})

func operation(method, path string, op, comps map[string]any, defSecurity any) Op {
	o := Op{Method: method, Path: path, ID: str(op["operationId"]), Summary: str(op["summary"]), Description: str(op["description"])}
	o.Auth = authOf(op["security"], defSecurity)
	for _, p := range list(op["parameters"]) {
		p := resolve(obj(p), comps)
		o.Params = append(o.Params, Param{Name: str(p["name"]), In: str(p["in"]), Type: typeOf(obj(p["schema"])),
			Description: str(p["description"]), Required: p["required"] == true})
	}
	if body := obj(op["requestBody"]); body != nil {
		o.Body = contentOf(obj(body["content"]))
	}
	resps := obj(op["responses"])
	for _, status := range sortedKeys(resps) {
		r := resolve(obj(resps[status]), comps)
		o.Responses = append(o.Responses, Response{Status: status, Description: str(r["description"]), Schema: contentOf(obj(r["content"]))})
	}
	return o
}

// authOf says how an operation authenticates, in words.
func authOf(sec, def any) string {
	if sec == nil {
		sec = def
	}
	var names []string
	anon := false
	for _, req := range list(sec) {
		r := obj(req)
		if len(r) == 0 {
			anon = true
		}
		for _, k := range sortedKeys(r) {
			names = append(names, k)
		}
	}
	switch {
	case len(names) == 0:
		return "none"
	case anon:
		return strings.Join(names, " or ") + " (optional)"
	}
	return strings.Join(names, " or ")
}

// contentOf is "media type: schema" for each media type of a content map.
func contentOf(content map[string]any) string {
	var parts []string
	for _, mt := range sortedKeys(content) {
		s := typeOf(obj(obj(content[mt])["schema"]))
		parts = append(parts, mt+": "+s)
	}
	return strings.Join(parts, "; ")
}

// resolve follows a local $ref into components.
func resolve(v, comps map[string]any) map[string]any {
	ref := str(v["$ref"])
	if !strings.HasPrefix(ref, "#/components/") {
		return v
	}
	parts := strings.Split(strings.TrimPrefix(ref, "#/components/"), "/")
	if len(parts) != 2 {
		return v
	}
	return obj(obj(comps[parts[0]])[parts[1]])
}

// typeOf names a schema briefly: a referenced schema's name, an array of
// something, an object with its properties, or the type.
func typeOf(s map[string]any) string {
	if s == nil {
		return ""
	}
	if ref := str(s["$ref"]); ref != "" {
		return ref[strings.LastIndex(ref, "/")+1:]
	}
	switch t := str(s["type"]); {
	case t == "array":
		return "array of " + typeOf(obj(s["items"]))
	case t == "object" && s["properties"] != nil:
		var ps []string
		props := obj(s["properties"])
		for _, k := range sortedKeys(props) {
			ps = append(ps, k+": "+typeOf(obj(props[k])))
		}
		return "{" + strings.Join(ps, ", ") + "}"
	case t == "object" && s["additionalProperties"] != nil && s["additionalProperties"] != false:
		return "map of " + typeOf(obj(s["additionalProperties"]))
	case t != "":
		return t
	case s["oneOf"] != nil:
		var alts []string
		for _, a := range list(s["oneOf"]) {
			alts = append(alts, typeOf(obj(a)))
		}
		return strings.Join(alts, " or ")
	}
	return "any"
}

// pathOrder lists the document's paths in the order the YAML gives
// them (grouped by resource, as a reader wants them), which decoding
// into maps loses.
func pathOrder() ([]string, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(source, &root); err != nil {
		return nil, err
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("openapi.yaml: empty")
	}
	top := root.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "paths" {
			continue
		}
		var out []string
		paths := top.Content[i+1]
		for j := 0; j+1 < len(paths.Content); j += 2 {
			out = append(out, paths.Content[j].Value)
		}
		return out, nil
	}
	return nil, fmt.Errorf("openapi.yaml: no paths")
}

func schemas(comps map[string]any) []Schema {
	all := obj(comps["schemas"])
	var out []Schema
	for _, name := range sortedKeys(all) {
		s := obj(all[name])
		sc := Schema{Name: name, Description: str(s["description"])}
		props := obj(s["properties"])
		req := map[string]bool{}
		for _, r := range list(s["required"]) {
			req[str(r)] = true
		}
		for _, k := range sortedKeys(props) {
			p := obj(props[k])
			sc.Props = append(sc.Props, Param{Name: k, Type: typeOf(p), Description: str(p["description"]), Required: req[k]})
		}
		if len(sc.Props) == 0 && sc.Description == "" {
			sc.Description = typeOf(s)
		}
		out = append(out, sc)
	}
	return out
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
