package oci

import (
	"slices"
	"strings"
)

// Actions on a repository scope.
const (
	ActionPull   = "pull"
	ActionPush   = "push"
	ActionDelete = "delete"
	ActionAll    = "*"
)

// Scope is one resource scope of a token request (notes §3.5):
// resourcetype ":" resourcename ":" action [ "," action ]*.
type Scope struct {
	Type    string   // "repository" or "registry"
	Name    string   // repository name, or "catalog"
	Actions []string // sorted, without duplicates
}

// CatalogScope is the scope /v2/_catalog needs.
var CatalogScope = Scope{Type: "registry", Name: "catalog", Actions: []string{ActionAll}}

// String formats s in the scope grammar.
func (s Scope) String() string {
	return s.Type + ":" + s.Name + ":" + strings.Join(s.Actions, ",")
}

// Has reports whether s grants action ("*" grants everything).
func (s Scope) Has(action string) bool {
	return slices.Contains(s.Actions, action) || slices.Contains(s.Actions, ActionAll)
}

// ParseScopes parses space-separated scopes (the POST form puts several in
// one field; GET repeats the parameter). The type is split at the first
// colon and the actions at the last, because a name may carry host:port.
// Malformed entries are skipped: a partial grant is not an error (§3.2).
func ParseScopes(fields ...string) []Scope {
	var out []Scope
	for _, f := range fields {
		for _, item := range strings.Fields(f) {
			typ, rest, ok := strings.Cut(item, ":")
			i := strings.LastIndex(rest, ":")
			if !ok || i <= 0 {
				continue
			}
			// A deprecated resource class, "repository(plugin)", is ignored.
			if j := strings.IndexByte(typ, '('); j > 0 {
				typ = typ[:j]
			}
			s := Scope{Type: typ, Name: rest[:i]}
			for _, a := range strings.Split(rest[i+1:], ",") {
				if a != "" && !slices.Contains(s.Actions, a) {
					s.Actions = append(s.Actions, a)
				}
			}
			slices.Sort(s.Actions)
			out = append(out, s)
		}
	}
	return out
}
