package idpsim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"
)

// Keycloak's realm defaults (Realm settings -> Tokens / Sessions).
const (
	defaultAccessTokenLifespan = 300 * time.Second
	defaultSSOSessionIdle      = 1800 * time.Second
	defaultSSOSessionMax       = 36000 * time.Second
	// offlineSessionIdle is Keycloak's offlineSessionIdleTimeout default (30 days).
	offlineSessionIdle = 30 * 24 * time.Hour
)

// ErrConfig reports an invalid simulator configuration.
var ErrConfig = errors.New("idpsim: invalid config")

// Config is the simulator's realm set. It is plain data: build it in Go, take
// DefaultConfig, or load a YAML realms file with LoadConfig.
type Config struct {
	Realms []RealmConfig `yaml:"realms" mapstructure:"realms"`
}

// RealmConfig describes one Keycloak realm.
type RealmConfig struct {
	// Name is the realm name; the issuer is BaseURL + "/realms/" + Name.
	Name string `yaml:"name" mapstructure:"name"`
	// SigningAlg is the realm's default signature algorithm for access, ID and
	// logout tokens: RS256 (default), PS256, ES256 or EdDSA.
	SigningAlg string `yaml:"signing_alg" mapstructure:"signing_alg"`
	// AccessTokenLifespan defaults to Keycloak's 300s.
	AccessTokenLifespan time.Duration `yaml:"access_token_lifespan" mapstructure:"access_token_lifespan"`
	// SSOSessionIdle defaults to 1800s; it bounds refresh token exp.
	SSOSessionIdle time.Duration `yaml:"sso_session_idle" mapstructure:"sso_session_idle"`
	// SSOSessionMax defaults to 36000s.
	SSOSessionMax time.Duration  `yaml:"sso_session_max" mapstructure:"sso_session_max"`
	Clients       []ClientConfig `yaml:"clients" mapstructure:"clients"`
	Users         []UserConfig   `yaml:"users" mapstructure:"users"`
}

// ClientConfig describes one OIDC client of a realm. The switches map to the
// Keycloak admin console settings named in each comment.
type ClientConfig struct {
	ClientID string `yaml:"client_id" mapstructure:"client_id"`
	// Secret is the client secret of a confidential client (client_secret_basic/post).
	Secret string `yaml:"secret" mapstructure:"secret"`
	// Public is "Client authentication: Off": no secret, cannot introspect.
	Public bool `yaml:"public" mapstructure:"public"`
	// ServiceAccounts is "Service accounts roles": client_credentials allowed.
	ServiceAccounts bool `yaml:"service_accounts" mapstructure:"service_accounts"`
	// DirectAccessGrants is "Direct access grants": password grant allowed.
	DirectAccessGrants bool `yaml:"direct_access_grants" mapstructure:"direct_access_grants"`
	// HeaderTypeRFC9068 is access.token.header.type.rfc9068: header typ "at+jwt".
	HeaderTypeRFC9068 bool `yaml:"header_type_rfc9068" mapstructure:"header_type_rfc9068"`
	// Audiences is a hardcoded Audience mapper: added to aud of the client's
	// access tokens. Without it Keycloak's tokens carry no aud for the client.
	Audiences []string `yaml:"audiences" mapstructure:"audiences"`
	// Lightweight is "Always use lightweight access token": the JWT lacks sub,
	// realm_access, resource_access, preferred_username and email; introspection
	// still returns them.
	Lightweight bool `yaml:"lightweight" mapstructure:"lightweight"`
	// DefaultScopes are always granted; nil means "openid profile email".
	DefaultScopes []string `yaml:"default_scopes" mapstructure:"default_scopes"`
	// OptionalScopes are granted only when requested in the scope parameter.
	// "offline_access" is always optional.
	OptionalScopes            []string            `yaml:"optional_scopes" mapstructure:"optional_scopes"`
	ServiceAccountRealmRoles  []string            `yaml:"service_account_realm_roles" mapstructure:"service_account_realm_roles"`
	ServiceAccountClientRoles map[string][]string `yaml:"service_account_client_roles" mapstructure:"service_account_client_roles"`
	// BackchannelLogoutURL receives OIDC Back-Channel Logout tokens.
	BackchannelLogoutURL string `yaml:"backchannel_logout_url" mapstructure:"backchannel_logout_url"`
	// AdminURL receives POST {AdminURL}/k_push_not_before.
	AdminURL string `yaml:"admin_url" mapstructure:"admin_url"`
	// IntrospectionJWTClaim is client.introspection.response.allow.jwt.claim.enabled
	// (KC 25+): with Accept: application/jwt the introspection response gets a
	// "jwt" member holding the access token.
	IntrospectionJWTClaim bool `yaml:"introspection_jwt_claim" mapstructure:"introspection_jwt_claim"`
}

// UserConfig describes one realm user.
type UserConfig struct {
	Username    string              `yaml:"username" mapstructure:"username"`
	Password    string              `yaml:"password" mapstructure:"password"`
	Email       string              `yaml:"email" mapstructure:"email"`
	RealmRoles  []string            `yaml:"realm_roles" mapstructure:"realm_roles"`
	ClientRoles map[string][]string `yaml:"client_roles" mapstructure:"client_roles"`
	// Enabled defaults to true.
	Enabled *bool `yaml:"enabled" mapstructure:"enabled"`
}

// DefaultConfig is the "dev" realm used by `tokenwarden dev` and most tests:
// confidential client demo/demo-secret (client_credentials, password grant,
// optional scope payments:write), public client web (password grant), users
// alice/alice and bob/bob.
func DefaultConfig() Config {
	return Config{Realms: []RealmConfig{{
		Name:                "dev",
		SigningAlg:          "RS256",
		AccessTokenLifespan: defaultAccessTokenLifespan,
		SSOSessionIdle:      defaultSSOSessionIdle,
		SSOSessionMax:       defaultSSOSessionMax,
		Clients: []ClientConfig{
			{
				ClientID:           "demo",
				Secret:             "demo-secret",
				ServiceAccounts:    true,
				DirectAccessGrants: true,
				DefaultScopes:      []string{"openid", "profile", "email"},
				OptionalScopes:     []string{"payments:write"},
			},
			{
				ClientID:           "web",
				Public:             true,
				DirectAccessGrants: true,
				DefaultScopes:      []string{"openid", "profile", "email"},
			},
		},
		Users: []UserConfig{
			{
				Username:    "alice",
				Password:    "alice",
				Email:       "alice@example.com",
				RealmRoles:  []string{"user"},
				ClientRoles: map[string][]string{"demo": {"reader"}},
			},
			{Username: "bob", Password: "bob", Email: "bob@example.com"},
		},
	}}}
}

// LoadConfig reads a YAML realms file. Unknown fields are errors so that a
// typo never silently changes the simulated IdP.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("idpsim: load config: %w", err)
	}
	defer f.Close()
	// Realms files are small; the cap keeps a wrong path (a device, a huge
	// file) from exhausting memory.
	const maxConfig = 1 << 20
	data, err := io.ReadAll(io.LimitReader(f, maxConfig+1))
	if err != nil {
		return Config{}, fmt.Errorf("idpsim: load config: %w", err)
	}
	if len(data) > maxConfig {
		return Config{}, fmt.Errorf("%w: %s larger than %d bytes", ErrConfig, path, maxConfig)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("%w: %s: %w", ErrConfig, path, err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

var supportedAlgs = []string{"RS256", "PS256", "ES256", "EdDSA"}

// Validate reports the first configuration error, wrapped in ErrConfig.
func (c Config) Validate() error {
	if len(c.Realms) == 0 {
		return fmt.Errorf("%w: no realms", ErrConfig)
	}
	seen := map[string]bool{}
	for _, r := range c.Realms {
		if r.Name == "" {
			return fmt.Errorf("%w: realm without name", ErrConfig)
		}
		if seen[r.Name] {
			return fmt.Errorf("%w: duplicate realm %q", ErrConfig, r.Name)
		}
		seen[r.Name] = true
		if r.SigningAlg != "" && !slices.Contains(supportedAlgs, r.SigningAlg) {
			return fmt.Errorf("%w: realm %q: signing_alg %q not one of %v", ErrConfig, r.Name, r.SigningAlg, supportedAlgs)
		}
		if r.AccessTokenLifespan < 0 || r.SSOSessionIdle < 0 || r.SSOSessionMax < 0 {
			return fmt.Errorf("%w: realm %q: negative duration", ErrConfig, r.Name)
		}
		clients := map[string]bool{}
		for _, cl := range r.Clients {
			if cl.ClientID == "" {
				return fmt.Errorf("%w: realm %q: client without client_id", ErrConfig, r.Name)
			}
			if clients[cl.ClientID] {
				return fmt.Errorf("%w: realm %q: duplicate client %q", ErrConfig, r.Name, cl.ClientID)
			}
			clients[cl.ClientID] = true
			if !cl.Public && cl.Secret == "" {
				return fmt.Errorf("%w: realm %q: confidential client %q needs a secret", ErrConfig, r.Name, cl.ClientID)
			}
			if cl.Public && cl.ServiceAccounts {
				return fmt.Errorf("%w: realm %q: public client %q cannot have service accounts", ErrConfig, r.Name, cl.ClientID)
			}
		}
		users := map[string]bool{}
		for _, u := range r.Users {
			if u.Username == "" {
				return fmt.Errorf("%w: realm %q: user without username", ErrConfig, r.Name)
			}
			if users[u.Username] {
				return fmt.Errorf("%w: realm %q: duplicate user %q", ErrConfig, r.Name, u.Username)
			}
			users[u.Username] = true
		}
	}
	return nil
}

func (r RealmConfig) withDefaults() RealmConfig {
	if r.SigningAlg == "" {
		r.SigningAlg = "RS256"
	}
	if r.AccessTokenLifespan == 0 {
		r.AccessTokenLifespan = defaultAccessTokenLifespan
	}
	if r.SSOSessionIdle == 0 {
		r.SSOSessionIdle = defaultSSOSessionIdle
	}
	if r.SSOSessionMax == 0 {
		r.SSOSessionMax = defaultSSOSessionMax
	}
	return r
}
