package ptx

import (
	"fmt"
	"strings"
)

// ParseEntries returns the entry points (.entry) of the PTX text src, each
// with its parameter list, in the order they appear. It reads declarations
// only and does not check the instructions. Parameters must be scalars
// (.u32, .s32, .f32, .u64, .s64, .b32, .b64, optionally with .ptr
// attributes); a .b32 parameter is reported as U32 and a .b64 as U64.
func ParseEntries(src string) ([]*Kernel, error) {
	s := StripComments(src)
	var ks []*Kernel
	for {
		i := strings.Index(s, ".entry")
		if i < 0 {
			return ks, nil
		}
		s = s[i+len(".entry"):]
		open := strings.IndexByte(s, '(')
		if open < 0 {
			return nil, fmt.Errorf("ptx: .entry without a parameter list")
		}
		name := strings.TrimSpace(s[:open])
		if !IsIdent(name) {
			return nil, fmt.Errorf("ptx: bad entry name %q", name)
		}
		end := strings.IndexByte(s[open:], ')')
		if end < 0 {
			return nil, fmt.Errorf("ptx: entry %s: unterminated parameter list", name)
		}
		list := s[open+1 : open+end]
		s = s[open+end+1:]
		k := &Kernel{Name: name}
		if strings.TrimSpace(list) != "" {
			for _, decl := range strings.Split(list, ",") {
				prm, err := parseParam(decl)
				if err != nil {
					return nil, fmt.Errorf("ptx: entry %s: %v", name, err)
				}
				k.Params = append(k.Params, prm)
			}
		}
		ks = append(ks, k)
	}
}

func parseParam(decl string) (Param, error) {
	f := strings.Fields(decl)
	if len(f) < 3 || f[0] != ".param" {
		return Param{}, fmt.Errorf("bad parameter %q", strings.TrimSpace(decl))
	}
	var t Type
	switch f[1] {
	case ".u32", ".b32":
		t = U32
	case ".s32":
		t = S32
	case ".f32":
		t = F32
	case ".u64", ".b64":
		t = U64
	case ".s64":
		t = S64
	default:
		return Param{}, fmt.Errorf("parameter %q: unsupported type %s", strings.TrimSpace(decl), f[1])
	}
	for _, attr := range f[2 : len(f)-1] { // .ptr.global.align 16 and the like
		if !strings.HasPrefix(attr, ".ptr") && strings.Trim(attr, "0123456789") != "" {
			return Param{}, fmt.Errorf("parameter %q: unexpected %s", strings.TrimSpace(decl), attr)
		}
	}
	name := f[len(f)-1]
	if !IsIdent(name) {
		return Param{}, fmt.Errorf("parameter %q: bad name %q", strings.TrimSpace(decl), name)
	}
	return Param{Name: name, Type: t}, nil
}

// StripComments returns src with its // and /* */ comments replaced by
// spaces, keeping line breaks so that line numbers stay the same.
func StripComments(src string) string {
	b := []byte(src)
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '/':
			for ; i < len(b) && b[i] != '\n'; i++ {
				b[i] = ' '
			}
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '*':
			for ; i < len(b) && !(b[i] == '*' && i+1 < len(b) && b[i+1] == '/'); i++ {
				if b[i] != '\n' {
					b[i] = ' '
				}
			}
			if i+1 < len(b) {
				b[i], b[i+1] = ' ', ' '
				i++
			}
		}
	}
	return string(b)
}

// IsIdent reports whether s is a PTX identifier (a kernel, parameter or
// label name): a letter, _ or $ followed by letters, digits, _ and $.
func IsIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_', r == '$':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
