// Package names holds the Library's rule for entity, collection and
// container names (docs/protocols/library-api.md §5.3 step 0): lowercase
// letters and digits in runs joined by single '.', '_' or '-'. Users and
// teams follow it too, since each user owns the entity of the same name.
//
// It is a hand-written scan rather than a regexp: it is checked on every
// request, and a package-level regexp would be compiled at every start of
// the `silo` client, which never uses it (issue 14: nothing costly at init).
package names

// Valid reports whether s follows the rule. Every valid name is also an OCI
// repository path component; ".." , uppercase and non-ASCII are ruled out.
func Valid(s string) bool {
	if s == "" {
		return false
	}
	sep := true // at the start, as after a separator, a run must begin
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			sep = false
		case c == '.' || c == '_' || c == '-':
			if sep {
				return false
			}
			sep = true
		default:
			return false
		}
	}
	return !sep
}
