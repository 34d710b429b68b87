package config

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
)

// MaxSecretBytes bounds a secret read by [Secret.Read].
const MaxSecretBytes = 64 << 10

// Read returns the secret from the file (File) or the environment variable
// (Env), with trailing newlines (\n, \r\n) removed so that `echo secret >
// file` works. The file is read on every call, bounded by MaxSecretBytes,
// so a rotated file is picked up when a component is rebuilt.
//
// Errors wrap [ErrSecret] and name the file or the variable, never the
// content. An unset Secret, both sources set, an unset or empty variable,
// and an empty or oversized file are errors.
//
// Read is safe for concurrent use.
func (s Secret) Read() ([]byte, error) {
	switch {
	case s.File != "" && s.Env != "":
		return nil, fmt.Errorf("%w: both file %q and env %q are set; choose one", ErrSecret, s.File, s.Env)
	case s.File != "":
		return readSecretFile(s.File)
	case s.Env != "":
		v, ok := os.LookupEnv(s.Env)
		if !ok {
			return nil, fmt.Errorf("%w: environment variable %s is not set", ErrSecret, s.Env)
		}
		if len(v) > MaxSecretBytes {
			return nil, fmt.Errorf("%w: environment variable %s is larger than %d bytes", ErrSecret, s.Env, MaxSecretBytes)
		}
		b := trimNewlines([]byte(v))
		if len(b) == 0 {
			return nil, fmt.Errorf("%w: environment variable %s is empty", ErrSecret, s.Env)
		}
		return b, nil
	default:
		return nil, fmt.Errorf("%w: no source configured (set file or env)", ErrSecret)
	}
}

// ReadLines reads the secret like Read and splits it into lines, trimming
// spaces and dropping blank lines: the format of server.api_keys (one key
// per line). Safe for concurrent use.
func (s Secret) ReadLines() ([]string, error) {
	b, err := s.Read()
	if err != nil {
		return nil, err
	}
	var out []string
	for line := range strings.Lines(string(b)) {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s has no non-blank line", ErrSecret, s.source())
	}
	return out, nil
}

func (s Secret) source() string {
	if s.File != "" {
		return "file " + s.File
	}
	return "environment variable " + s.Env
}

func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		// *PathError names the path and the OS reason only.
		return nil, fmt.Errorf("%w: %w", ErrSecret, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSecretBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read file %s: %w", ErrSecret, path, err)
	}
	if len(b) > MaxSecretBytes {
		return nil, fmt.Errorf("%w: file %s is larger than %d bytes", ErrSecret, path, MaxSecretBytes)
	}
	b = trimNewlines(b)
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: file %s is empty", ErrSecret, path)
	}
	return b, nil
}

func trimNewlines(b []byte) []byte {
	return bytes.TrimRight(b, "\r\n")
}
