package config

import (
	"fmt"
	"reflect"
)

// UsedKeys returns the table key of every field and list element c sets.
func UsedKeys(c *Config) map[string]bool {
	keys := map[string]bool{}
	walk(reflect.ValueOf(c).Elem(), "", "", func(_, key string, _ reflect.Value) { keys[key] = true })
	return keys
}

// AllKeys returns the table key of every field the Config type has: the
// keys of a configuration with every field set, seen by the same walk the
// version check uses.
func AllKeys() map[string]bool {
	var c Config
	fill(reflect.ValueOf(&c).Elem())
	return UsedKeys(&c)
}

// fill sets v and everything under it to a non-zero value, lists to one
// element.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(1)
	default:
		// A new kind of field: teach fill, and check that walk sees it.
		panic(fmt.Sprintf("fill: %s fields are not handled", v.Kind()))
	}
}
