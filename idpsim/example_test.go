package idpsim_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tokenwarden/tokenwarden/idpsim"
)

func Example() {
	idp, err := idpsim.Start(idpsim.DefaultConfig(), "")
	if err != nil {
		panic(err)
	}
	defer idp.Close()

	tr, err := idp.ClientCredentials("dev", "demo")
	if err != nil {
		panic(err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tr.AccessToken, ".")[1])
	var claims struct {
		Typ string `json:"typ"`
		Azp string `json:"azp"`
		Iss string `json:"iss"`
	}
	_ = json.Unmarshal(payload, &claims)
	fmt.Println(claims.Typ, claims.Azp, claims.Iss == idp.Issuer("dev"))
	// Output: Bearer demo true
}
