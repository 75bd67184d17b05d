package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// MaxVersion is the newest format version this build reads, and the newest
// the operator built with it may write. It reads every version from 1 up.
const MaxVersion = 2

// FieldVersion names the format version that introduced a field, or a value
// of a field.
type FieldVersion struct {
	// Path is the field's JSON path, "[]" standing for any element of a list:
	// "rules[].claims", "cors.maxAgeSeconds", "authorizers[].algorithms[]".
	Path string
	// Value, when set, limits the entry to that value of a string field: an
	// enum value or algorithm added to a field an older version has.
	Value string
	// Version is the first format version that has it.
	Version int
}

// fieldVersions lists every field and value added after version 1. It is the
// format's one source of truth: Validate refuses a configuration that uses an
// entry while declaring an older version, and MinVersion, which the compiler
// writes, is the newest entry a configuration uses.
var fieldVersions = []FieldVersion{
	{Path: "authorizers[].caBundle", Version: 2},
	{Path: "authorizers[].allowInsecureHTTP", Version: 2},
	{Path: "authorizers[].jwks", Version: 2},
	{Path: "authorizers[].keyRefresh", Version: 2},
	{Path: "authorizers[].keyRefresh.interval", Version: 2},
	{Path: "authorizers[].keyRefresh.unknownKidCooldown", Version: 2},
	{Path: "authorizers[].keyRefresh.maxStale", Version: 2},
	// Nested claim paths and the scope source.
	{Path: "authorizers[].scopeClaims", Version: 2},
	{Path: "authorizers[].scopeClaims[]", Version: 2},
	{Path: "authorizers[].scopeClaims[][]", Version: 2},
	{Path: "authorizers[].claimsToHeaders[].path", Version: 2},
	{Path: "authorizers[].claimsToHeaders[].path[]", Version: 2},
	{Path: "rules[].claims[].path", Version: 2},
	{Path: "rules[].claims[].path[]", Version: 2},
	// Claim operators: a version 1 sidecar would read any of them as In.
	{Path: "rules[].claims[].operator", Version: 2},
	{Path: "authorizers[].forwardTokenHeader", Version: 2},
	{Path: "rules[].authorizers", Version: 2},
	{Path: "rules[].authorizers[]", Version: 2},
	{Path: "rules[].optionalToken", Version: 2},
	{Path: "rules[].claimsToHeaders", Version: 2},
	{Path: "rules[].claimsToHeaders[]", Version: 2},
	{Path: "rules[].claimsToHeaders[].claim", Version: 2},
	{Path: "rules[].claimsToHeaders[].header", Version: 2},
	{Path: "rules[].forwardToken", Version: 2},
	{Path: "rules[].forwardTokenHeader", Version: 2},
	{Path: "rules[].claimsToHeaders[].path", Version: 2},
	{Path: "rules[].claimsToHeaders[].path[]", Version: 2},
	{Path: "mode", Version: 2},
}

// Format is a configuration format: the versions it reads and the version
// each later field appeared in. Current is this build's; tests describe
// future ones to exercise the rule before a second version exists.
type Format struct {
	MaxVersion int
	Fields     []FieldVersion
}

var current = Format{MaxVersion: MaxVersion, Fields: fieldVersions}

// Current returns the format this build reads and writes.
func Current() Format {
	return Format{MaxVersion: current.MaxVersion, Fields: slices.Clone(current.Fields)}
}

// MinVersion is the lowest format version that expresses c: 1, or the
// version of the newest field or value c uses.
func MinVersion(c *Config) int { return current.MinVersion(c) }

// MinVersion is the lowest version of f that expresses c.
func (f Format) MinVersion(c *Config) int {
	v := 1
	f.uses(c, func(_ string, fv FieldVersion) { v = max(v, fv.Version) })
	return v
}

// checkVersion refuses a version f does not read and fields newer than the
// version c declares.
func (f Format) checkVersion(v *validator, c *Config) {
	switch {
	case c.Version < 1:
		v.add("version", "is %d; configuration versions start at 1", c.Version)
	case c.Version > f.MaxVersion:
		v.errs = append(v.errs, &VersionError{Version: c.Version, Max: f.MaxVersion})
	default:
		f.uses(c, func(path string, fv FieldVersion) {
			if fv.Version > c.Version {
				v.errs = append(v.errs, &FieldError{Path: path, Value: fv.Value, Since: fv.Version, Declared: c.Version})
			}
		})
	}
}

// uses calls found for every field or value of c that f's table lists, with
// where it is in c ("rules[2].claims").
func (f Format) uses(c *Config, found func(path string, fv FieldVersion)) {
	if len(f.Fields) == 0 {
		return // nothing was added after version 1
	}
	walk(reflect.ValueOf(c).Elem(), "", "", func(path, key string, v reflect.Value) {
		for _, fv := range f.Fields {
			if fv.Path == key && (fv.Value == "" || v.Kind() == reflect.String && v.String() == fv.Value) {
				found(path, fv)
			}
		}
	})
}

// walk calls visit for every field of v that is set and every element of a
// list, with its path ("rules[2].scopes[0]") and its table key
// ("rules[].scopes[]"). A field at its zero value is not used, which is why
// a field added later must mean, when unset, what older versions did.
func walk(v reflect.Value, path, key string, visit func(path, key string, v reflect.Value)) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			walk(v.Elem(), path, key, visit)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			name := jsonName(v.Type().Field(i))
			f := v.Field(i)
			if name == "" || unset(f) {
				continue
			}
			p, k := name, name
			if path != "" {
				p, k = path+"."+name, key+"."+name
			}
			visit(p, k, f)
			walk(f, p, k, visit)
		}
	case reflect.Slice:
		for i := range v.Len() {
			p, k := path+"["+strconv.Itoa(i)+"]", key+"[]"
			visit(p, k, v.Index(i))
			walk(v.Index(i), p, k, visit)
		}
	}
}

// unset is true for a value a configuration omits: zero, or an empty list
// (which decodes as non-nil).
func unset(v reflect.Value) bool {
	if v.Kind() == reflect.Slice {
		return v.Len() == 0
	}
	return v.IsZero()
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if !f.IsExported() || name == "-" {
		return ""
	}
	if name == "" {
		return f.Name
	}
	return name
}

// VersionError refuses a configuration in a format version newer than this
// build reads. Parse returns it before decoding anything else, so it is the
// reason given, not the newer fields it brings.
type VersionError struct {
	Version int // declared by the configuration
	Max     int // newest this build reads
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("version: is %d; this sidecar understands configuration versions 1..%d; upgrade the sidecar image: "+
		"recreate the pods so the injector gives them the operator's current image (kubectl rollout restart deployment/NAME)", e.Version, e.Max)
}

// FieldError refuses a field the configuration's declared version does not
// have: one this build does not know (Since 0), or one a later version
// introduced. Ignoring it could drop a requirement.
type FieldError struct {
	// Path is where the field is; only its name when unknown.
	Path string
	// Value is set when only this value of the field is newer.
	Value    string
	Since    int
	Declared int
}

func (e *FieldError) Error() string {
	if e.Since == 0 {
		return fmt.Sprintf("unknown field %q in a version %d configuration; this sidecar refuses what it does not know rather than ignore a requirement", e.Path, e.Declared)
	}
	what := "is"
	if e.Value != "" {
		what = strconv.Quote(e.Value) + " is"
	}
	return fmt.Sprintf("%s: %s new in configuration version %d but the configuration declares version %d; declare version %d or later",
		e.Path, what, e.Since, e.Declared, e.Since)
}
