package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// EnvPrefix is the prefix of the environment variables that override keys:
// key server.admin_addr is read from TOKENWARDEN_SERVER_ADMIN_ADDR.
const EnvPrefix = "TOKENWARDEN"

// MaxFileBytes bounds the configuration file Load reads.
const MaxFileBytes = 1 << 20

// Flags that Load binds when they are present in its flag set and were set
// on the command line. [AddFlags] defines them.
const (
	FlagAddr      = "addr"       // server.addr
	FlagAdminAddr = "admin-addr" // server.admin_addr
	FlagLogLevel  = "log-level"  // log.level
)

// flagKeys maps the short flag names above to their keys. Any other flag
// whose name is itself a leaf key (e.g. --server.max_in_flight) is bound too.
var flagKeys = map[string]string{
	FlagAddr:      "server.addr",
	FlagAdminAddr: "server.admin_addr",
	FlagLogLevel:  "log.level",
}

// AddFlags defines --addr, --admin-addr and --log-level on fs, with empty
// defaults so that the file, the environment and [Config.ApplyDefaults]
// decide when a flag is not given. Commands may define the same flags
// themselves instead; Load only looks flags up by name.
func AddFlags(fs *pflag.FlagSet) {
	fs.String(FlagAddr, "", "validate API listen address, host:port (key server.addr; default "+DefaultAddr+")")
	fs.String(FlagAdminAddr, "", "admin listen address, host:port (key server.admin_addr; default "+DefaultAdminAddr+")")
	fs.String(FlagLogLevel, "", "log level: debug, info, warn, error (key log.level; default "+DefaultLogLevel+")")
}

// Load reads the YAML file at path ("" means no file: defaults, environment
// and flags only), applies TOKENWARDEN_* environment variables and flags,
// decodes strictly, applies defaults and validates.
//
// Precedence, highest first: a flag that was set on the command line, an
// environment variable, the file, the defaults of [Config.ApplyDefaults].
//
// Environment: every leaf key outside lists and maps is bound explicitly, so
// TOKENWARDEN_REVOCATION_WINDOW=2h works even if the file has no revocation
// section. Keys inside lists (issuers, routes) cannot be set from the
// environment; keys under strategies.NAME can be overridden only when the
// file defines that strategy. List values ([]string) are given
// comma-separated: TOKENWARDEN_SERVER_TRUSTED_PROXIES=10.0.0.0/8,::1/128.
// Secrets are never values: TOKENWARDEN_REVOCATION_ADMIN_SECRET_ENV names
// the variable that holds the secret.
//
// Flags (flags may be nil): the flags named by FlagAddr, FlagAdminAddr and
// FlagLogLevel, and any flag named exactly like a leaf key
// (--server.max_in_flight), are bound when set (pflag Changed); a flag's own
// default value is ignored so the documented defaults stay the only ones.
//
// Durations are strings with a unit ("30s", "5m"); a bare non-zero number is
// rejected rather than read as nanoseconds. Unknown keys are errors naming
// the key. An error wraps [ErrInvalid] or [ErrUnknownKey] and lists every
// problem found. Load reads no secret: callers use [Secret.Read].
//
// Load is safe for concurrent use; it has no global state.
func Load(path string, flags *pflag.FlagSet) (*Config, error) {
	if path == "" {
		return load("", nil, flags)
	}
	b, err := readBounded(path, MaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("config: %w: %w", ErrInvalid, err)
	}
	return load(path, b, flags)
}

// LoadBytes is Load for a YAML document already in memory (an embedded
// configuration); name labels error messages.
func LoadBytes(name string, data []byte, flags *pflag.FlagSet) (*Config, error) {
	if int64(len(data)) > MaxFileBytes {
		return nil, fmt.Errorf("config %s: %w: larger than %d bytes", name, ErrInvalid, MaxFileBytes)
	}
	return load(name, data, flags)
}

func load(path string, b []byte, flags *pflag.FlagSet) (*Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	for _, k := range leafKeys() {
		if err := v.BindEnv(k); err != nil {
			return nil, fmt.Errorf("config: bind env %s: %w", k, err)
		}
	}

	if b != nil {
		if err := v.ReadConfig(bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("config %s: %w: YAML: %w", path, ErrInvalid, err)
		}
	}

	if err := bindFlags(v, flags); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}

	where := "config"
	if path != "" {
		where = "config " + path
	}

	// Our own walk first: it names the full path of an unknown key and
	// explains inline secrets, which mapstructure's errors do not.
	var p problems
	checkKeys(&p, v.AllSettings(), reflect.TypeFor[Config](), "")
	if err := p.err(); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}

	var c Config
	hook := viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(durationHook, stringSliceHook))
	if err := v.UnmarshalExact(&c, hook); err != nil {
		return nil, fmt.Errorf("%s: %w", where, translateDecodeError(err))
	}

	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return &c, nil
}

// bindFlags binds the set flags of fs that Load knows.
func bindFlags(v *viper.Viper, fs *pflag.FlagSet) error {
	if fs == nil {
		return nil
	}
	leaves := leafKeys()
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || !f.Changed {
			return
		}
		key, ok := flagKeys[f.Name]
		if !ok && slices.Contains(leaves, f.Name) {
			key, ok = f.Name, true
		}
		if ok {
			err = v.BindPFlag(key, f)
		}
	})
	return err
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

var (
	durationType  = reflect.TypeFor[time.Duration]()
	secretType    = reflect.TypeFor[Secret]()
	stringsType   = reflect.TypeFor[[]string]()
	configTypeRef = reflect.TypeFor[Config]()
)

// leafKeys lists every key that can be bound to an environment variable or
// a flag: the leaves reachable from Config through structs only. Lists of
// structs (issuers, routes) and maps (strategies, headers) are skipped: their
// keys are not known before the file is read.
func leafKeys() []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for f := range t.Fields() {
			tag := f.Tag.Get("mapstructure")
			if tag == "" || tag == "-" {
				continue
			}
			key := prefix + tag
			switch ft := f.Type; {
			case ft.Kind() == reflect.Struct && ft != durationType:
				walk(ft, key+".")
			case ft.Kind() == reflect.Map, ft.Kind() == reflect.Slice && ft != stringsType:
				// not bindable
			default:
				keys = append(keys, key)
			}
		}
	}
	walk(configTypeRef, "")
	return keys
}

// checkKeys walks the raw settings against the schema type t, reporting
// unknown keys with their full path and secrets written inline.
func checkKeys(p *problems, raw any, t reflect.Type, path string) {
	if raw == nil {
		return
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == durationType:
	case t.Kind() == reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			if t == secretType {
				// Do not echo the value: it is probably the secret itself.
				p.add(path, "a secret cannot be written inline; use {file: PATH} or {env: VARIABLE}")
			} else {
				p.add(path, "expected a mapping of keys, got a %s", kindName(raw))
			}
			return
		}
		fields := map[string]reflect.Type{}
		for f := range t.Fields() {
			if tag := f.Tag.Get("mapstructure"); tag != "" && tag != "-" {
				fields[tag] = f.Type
			}
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			ft, ok := fields[k]
			if !ok {
				p.unknown(join(path, k))
				continue
			}
			checkKeys(p, m[k], ft, join(path, k))
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		l, ok := raw.([]any)
		if !ok {
			p.add(path, "expected a list, got a %s", kindName(raw))
			return
		}
		for i, e := range l {
			checkKeys(p, e, t.Elem(), path+"["+strconv.Itoa(i)+"]")
		}
	case t.Kind() == reflect.Map:
		m, ok := raw.(map[string]any)
		if !ok {
			p.add(path, "expected a mapping, got a %s", kindName(raw))
			return
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			checkKeys(p, m[k], t.Elem(), join(path, k))
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case []any:
		return "list"
	case map[string]any:
		return "mapping"
	case bool:
		return "boolean"
	case int, int64, uint64, float64:
		return "number"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// durationHook decodes "30s"-style strings into time.Duration and refuses
// bare numbers: YAML `timeout: 5` would otherwise silently mean 5ns.
func durationHook(_ reflect.Type, t reflect.Type, data any) (any, error) {
	if t != durationType {
		return data, nil
	}
	switch d := data.(type) {
	case string:
		s := strings.TrimSpace(d)
		if s == "" || s == "0" {
			return time.Duration(0), nil
		}
		dur, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("invalid duration %q: use a number with a unit, e.g. \"30s\", \"5m\"", s)
		}
		return dur, nil
	case time.Duration:
		return d, nil
	case int, int64, int32, uint, uint64, uint32, float64, float32:
		if reflect.ValueOf(d).IsZero() {
			return time.Duration(0), nil
		}
		return nil, errors.New("a duration needs a unit, e.g. \"30s\"; a bare number is not accepted")
	}
	return data, nil
}

// stringSliceHook splits comma-separated strings (environment values) into
// []string, trimming spaces and dropping empty elements.
func stringSliceHook(f reflect.Type, t reflect.Type, data any) (any, error) {
	if f.Kind() != reflect.String || t != stringsType {
		return data, nil
	}
	var out []string
	for s := range strings.SplitSeq(data.(string), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

// translateDecodeError turns mapstructure's errors into FieldErrors keyed by
// the path mapstructure reports.
func translateDecodeError(err error) error {
	var p problems
	var walk func(error)
	walk = func(e error) {
		if de, ok := e.(*mapstructure.DecodeError); ok {
			msg := "cannot decode"
			if inner := de.Unwrap(); inner != nil {
				msg = inner.Error()
			}
			p = append(p, &FieldError{Key: de.Name(), Kind: ErrInvalid, Msg: msg})
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, c := range j.Unwrap() {
				walk(c)
			}
			return
		}
		if u := errors.Unwrap(e); u != nil {
			walk(u)
			return
		}
		p = append(p, &FieldError{Kind: ErrInvalid, Msg: e.Error()})
	}
	walk(err)
	return p.err()
}
