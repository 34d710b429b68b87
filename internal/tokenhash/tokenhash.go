// Package tokenhash derives the only forms of a token or secret that
// tokenwarden ever stores as a key, logs or labels: a SHA-256 digest for cache
// keys and a short fingerprint for humans.
package tokenhash

import (
	"crypto/sha256"
	"encoding/hex"
)

// Key is the SHA-256 digest of a token, used as a cache key.
type Key [sha256.Size]byte

// Of returns the SHA-256 digest of token.
func Of(token string) Key { return sha256.Sum256([]byte(token)) }

// Fingerprint returns the first 12 hex digits of the token's SHA-256: enough
// to correlate log lines, useless for replay. Safe to log.
func Fingerprint(token string) string {
	k := Of(token)
	return k.Fingerprint()
}

// Fingerprint returns the short printable form of k.
func (k Key) Fingerprint() string { return hex.EncodeToString(k[:6]) }
