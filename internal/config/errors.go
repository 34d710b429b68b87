package config

import (
	"errors"
	"fmt"
)

// Error kinds returned by [Load], [Config.Validate] and [Secret.Read]; check
// them with errors.Is. The message of every configuration error starts with
// the key path it is about (e.g. "issuers[0].jwks.max_stale: ...").
var (
	// ErrInvalid: a value is missing, malformed, out of range or unsafe, or the
	// file cannot be parsed.
	ErrInvalid = errors.New("invalid configuration")
	// ErrUnknownKey: the file or a flag names a key the schema does not have
	// (usually a typo). It wraps ErrInvalid.
	ErrUnknownKey = fmt.Errorf("%w: unknown key", ErrInvalid)
	// ErrSecret: a secret's file or environment variable cannot be read, is
	// empty or is too large. The message names the file or variable, never
	// the content.
	ErrSecret = errors.New("secret unavailable")
)

// FieldError is one problem with one key. Error returns "KEY: MESSAGE"; the
// message never contains a secret value.
type FieldError struct {
	// Key is the dotted key path, with list indexes: issuers[0].audiences.
	Key string
	// Kind is ErrInvalid or ErrUnknownKey.
	Kind error
	// Msg says what is wrong and, where it helps, what is expected.
	Msg string
}

func (e *FieldError) Error() string {
	if e.Key == "" {
		return e.Msg
	}
	return e.Key + ": " + e.Msg
}

// Unwrap returns the error kind, so errors.Is(err, ErrInvalid) works.
func (e *FieldError) Unwrap() error { return e.Kind }

// problems accumulates FieldErrors so that one run reports every mistake
// instead of making the operator fix them one at a time.
type problems []error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, &FieldError{Key: key, Kind: ErrInvalid, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) unknown(key string) {
	*p = append(*p, &FieldError{Key: key, Kind: ErrUnknownKey,
		Msg: "unknown key (check the spelling; keys are snake_case, see configs/tokenwarden.yaml)"})
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return errors.Join(p...)
}
