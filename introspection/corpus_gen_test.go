package introspection

import (
	"os"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/internal/fuzzseed"
)

// TestGenCorpus writes the seed corpus of FuzzDecodeResponse under
// testdata/fuzz. Run once, by hand, and commit:
//
//	TW_GEN_CORPUS=1 go test -run '^TestGenCorpus$' ./introspection/
func TestGenCorpus(t *testing.T) {
	if os.Getenv("TW_GEN_CORPUS") != "1" {
		t.Skip("set TW_GEN_CORPUS=1 to regenerate testdata/fuzz")
	}
	kc := `{"exp":1700000300,"iat":1700000000,"jti":"0f1e","iss":"http://127.0.0.1:8180/realms/dev","aud":"account",` +
		`"sub":"user-1","typ":"Bearer","azp":"demo","sid":"s-1","acr":"1","scope":"openid profile",` +
		`"realm_access":{"roles":["user","offline_access"]},"resource_access":{"demo":{"roles":["reader"]}},` +
		`"preferred_username":"alice","client_id":"demo","username":"alice","token_type":"Bearer","active":true}`
	seeds := map[string]string{
		"keycloak-active":        kc,
		"keycloak-refresh":       strings.Replace(kc, `"typ":"Bearer"`, `"typ":"Refresh"`, 1),
		"inactive":               `{"active":false}`,
		"active-string":          `{"active":"true"}`,
		"active-number":          `{"active":1}`,
		"active-True":            `{"active":True}`,
		"active-null":            `{"active":null}`,
		"active-array":           `{"active":[true]}`,
		"active-object":          `{"active":{"value":true}}`,
		"active-escaped-name":    `{"\u0061ctive":true}`,
		"active-upper-name":      `{"Active":true,"ACTIVE":true}`,
		"active-spaces":          "{ \"active\" :\ttrue\n}",
		"nested-active":          `{"x":{"active":true}}`,
		"duplicate-active":       `{"active":false,"active":true}`,
		"duplicate-escaped":      `{"active":false,"\u0061ctive":true}`,
		"empty-object":           `{}`,
		"array":                  `[true]`,
		"null":                   `null`,
		"true":                   `true`,
		"trailing-data":          `{"active":true}{"active":false}`,
		"trailing-garbage":       `{"active":true}x`,
		"bom":                    "\xef\xbb\xbf{\"active\":true}",
		"html":                   "<html><body>502 Bad Gateway</body></html>\x00\xff{not json",
		"exp-fraction":           `{"active":true,"exp":1.5,"aud":["a"]}`,
		"exp-string":             `{"active":true,"exp":"1"}`,
		"exp-huge":               `{"active":true,"exp":1e300}`,
		"exp-negative":           `{"active":true,"exp":-1}`,
		"exp-nan-ish":            `{"active":true,"exp":NaN}`,
		"exp-exponent":           `{"active":true,"exp":17e8}`,
		"aud-number":             `{"active":true,"aud":5}`,
		"aud-mixed-array":        `{"active":true,"aud":["a",1,null]}`,
		"roles-wrong-type":       `{"active":true,"realm_access":{"roles":"admin"}}`,
		"resource-access-array":  `{"active":true,"resource_access":[{"roles":["a"]}]}`,
		"roles":                  `{"active":true,"realm_access":{"roles":["a"]},"resource_access":{"c":{"roles":[]}}}`,
		"cnf":                    `{"active":true,"cnf":{"jkt":"x"}}`,
		"cnf-string":             `{"active":true,"cnf":"x"}`,
		"cnf-null":               `{"active":true,"cnf":null}`,
		"sub-non-utf8":           "{\"active\":true,\"sub\":\"\xff\xfe\"}",
		"sub-escaped-nul":        `{"active":true,"sub":"a\u0000b"}`,
		"lone-surrogate":         `{"active":true,"sub":"\ud800"}`,
		"deep-nesting":           `{"active":true,"x":` + strings.Repeat("[", 500) + strings.Repeat("]", 500) + `}`,
		"unterminated":           `{"active":true`,
		"big-member":             `{"active":true,"pad":"` + strings.Repeat("x", 4<<10) + `"}`,
		"many-members":           "{" + strings.Repeat(`"a":1,`, 200) + `"active":true}`,
		"jwt-claim-keycloak-25+": `{"active":true,"jwt":"eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9."}`,
	}
	for name, body := range seeds {
		fuzzseed.Write(t, "FuzzDecodeResponse", name, []byte(body))
	}
}
