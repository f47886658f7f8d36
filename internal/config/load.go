package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Load builds a Config for `parley serve` (or worker): defaults, then
// the JSON file named by --config (or PARLEY_CONFIG), then the
// environment (lookup, so tests pass their own), then the flags in args.
// The caller validates it (Validate, ValidateWorker).
func Load(fs *flag.FlagSet, args []string, lookup func(string) (string, bool)) (Config, error) {
	// Flags are parsed into a scratch config first: they are applied last,
	// over the file and the environment, so that they win.
	scratch := Default()
	configFile := fs.String("config", "", "optional JSON configuration file (unknown keys are rejected)")
	Flags(fs, &scratch)
	if err := fs.Parse(args); err != nil {
		return scratch, err
	}
	if fs.NArg() > 0 {
		return scratch, fmt.Errorf("%w: unexpected argument %q", ErrInvalid, fs.Arg(0))
	}
	set := map[string]string{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = f.Value.String() })

	cfg := Default()
	path := *configFile
	if path == "" {
		path, _ = lookup("PARLEY_CONFIG")
	}
	if path != "" {
		if err := loadFile(path, &cfg); err != nil {
			return cfg, err
		}
	}
	if err := applyEnv(&cfg, lookup); err != nil {
		return cfg, err
	}
	for name, value := range set {
		if name == "config" {
			continue
		}
		if err := setField(fieldByName(&cfg, name), value); err != nil {
			return cfg, fmt.Errorf("%w: --%s: %v", ErrInvalid, name, err)
		}
	}
	return cfg, nil
}

func loadFile(path string, cfg *Config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	// Durations are written as strings ("10s") in the file; decode into a
	// generic map first and apply each key through the same setter as env
	// and flags, so one parser handles every source.
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalid, path, err)
	}
	return applyJSON(reflect.ValueOf(cfg).Elem(), raw, path, "")
}

func applyJSON(v reflect.Value, raw map[string]json.RawMessage, path, prefix string) error {
	known := map[string]reflect.Value{}
	for i := 0; i < v.NumField(); i++ {
		if name := v.Type().Field(i).Tag.Get("name"); name != "" {
			known[name] = v.Field(i)
		}
	}
	for key, msg := range raw {
		fv, ok := known[key]
		if !ok {
			return fmt.Errorf("%w: %s: unknown key %q", ErrInvalid, path, prefix+key)
		}
		if fv.Kind() == reflect.Struct && fv.Type() != reflect.TypeOf(time.Duration(0)) {
			var sub map[string]json.RawMessage
			if err := json.Unmarshal(msg, &sub); err != nil {
				return fmt.Errorf("%w: %s: %s: want an object", ErrInvalid, path, prefix+key)
			}
			if err := applyJSON(fv, sub, path, prefix+key+"."); err != nil {
				return err
			}
			continue
		}
		var s string
		switch fv.Kind() {
		case reflect.String:
			if err := json.Unmarshal(msg, &s); err != nil {
				return fmt.Errorf("%w: %s: %s: want a string", ErrInvalid, path, prefix+key)
			}
		case reflect.Slice:
			var list []string
			if err := json.Unmarshal(msg, &list); err != nil {
				return fmt.Errorf("%w: %s: %s: want a list of strings", ErrInvalid, path, prefix+key)
			}
			s = strings.Join(list, ",")
		default:
			// Numbers, booleans and durations ("10s" or a number of seconds).
			var x any
			if err := json.Unmarshal(msg, &x); err != nil {
				return fmt.Errorf("%w: %s: %s: %v", ErrInvalid, path, prefix+key, err)
			}
			switch x := x.(type) {
			case string:
				s = x
			case float64:
				if fv.Type() == reflect.TypeOf(time.Duration(0)) {
					s = strconv.FormatFloat(x, 'f', -1, 64) + "s"
				} else {
					s = strconv.FormatFloat(x, 'f', -1, 64)
				}
			case bool:
				s = strconv.FormatBool(x)
			default:
				return fmt.Errorf("%w: %s: %s: unexpected value", ErrInvalid, path, prefix+key)
			}
		}
		if err := setField(fv, s); err != nil {
			return fmt.Errorf("%w: %s: %s: %v", ErrInvalid, path, prefix+key, err)
		}
	}
	return nil
}

// leaves calls fn for every settable leaf field with its name tag.
func leaves(v reflect.Value, fn func(name string, tag reflect.StructTag, f reflect.Value)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name := sf.Tag.Get("name")
		if name == "" {
			continue
		}
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct && fv.Type() != reflect.TypeOf(time.Duration(0)) {
			leaves(fv, fn)
			continue
		}
		fn(name, sf.Tag, fv)
	}
}

func fieldByName(cfg *Config, name string) reflect.Value {
	var out reflect.Value
	leaves(reflect.ValueOf(cfg).Elem(), func(n string, _ reflect.StructTag, f reflect.Value) {
		if n == name {
			out = f
		}
	})
	return out
}

// EnvName is the environment variable of a field name: listen →
// PARLEY_LISTEN, udp-port → PARLEY_UDP_PORT.
func EnvName(name string) string {
	return "PARLEY_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(name))
}

// fieldEnv is a field's environment variable: its env tag, else EnvName.
func fieldEnv(name string, tag reflect.StructTag) string {
	if e := tag.Get("env"); e != "" {
		return e
	}
	return EnvName(name)
}

func applyEnv(cfg *Config, lookup func(string) (string, bool)) error {
	var err error
	leaves(reflect.ValueOf(cfg).Elem(), func(name string, tag reflect.StructTag, f reflect.Value) {
		if err != nil {
			return
		}
		env := fieldEnv(name, tag)
		if s, ok := lookup(env); ok {
			if e := setField(f, s); e != nil {
				err = fmt.Errorf("%w: %s: %v", ErrInvalid, env, e)
			}
		}
	})
	return err
}

// Flags registers one flag per leaf field on fs, bound to cfg, except
// for fields tagged flag:"-" (secrets: a flag's value shows in ps; they
// come from the environment or the file).
func Flags(fs *flag.FlagSet, cfg *Config) {
	leaves(reflect.ValueOf(cfg).Elem(), func(name string, tag reflect.StructTag, f reflect.Value) {
		if tag.Get("flag") == "-" {
			return
		}
		fs.Var(fieldValue{f}, name, tag.Get("help")+" (env "+fieldEnv(name, tag)+")")
	})
}

// fieldValue adapts a struct field to flag.Value.
type fieldValue struct{ f reflect.Value }

func (v fieldValue) String() string {
	if !v.f.IsValid() {
		return ""
	}
	switch x := v.f.Interface().(type) {
	case []string:
		return strings.Join(x, ",")
	case time.Duration:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}

func (v fieldValue) Set(s string) error { return setField(v.f, s) }

// IsBoolFlag lets a boolean setting be given as a bare --flag.
func (v fieldValue) IsBoolFlag() bool { return v.f.IsValid() && v.f.Kind() == reflect.Bool }

func setField(f reflect.Value, s string) error {
	if !f.IsValid() {
		return fmt.Errorf("no such setting")
	}
	if f.Type() == reflect.TypeOf(time.Duration(0)) {
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		f.SetInt(int64(d))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(strings.TrimSpace(s))
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		f.SetInt(n)
	case reflect.Float64:
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		f.SetFloat(x)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not a boolean", s)
		}
		f.SetBool(b)
	case reflect.Slice:
		var list []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				list = append(list, p)
			}
		}
		f.Set(reflect.ValueOf(list))
	default:
		return fmt.Errorf("unsupported setting type %s", f.Type())
	}
	return nil
}
