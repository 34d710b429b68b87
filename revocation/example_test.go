package revocation_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/tokenwarden/tokenwarden/revocation"
)

func Example() {
	store, err := revocation.NewMemory(revocation.Config{Window: time.Hour},
		revocation.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		fmt.Println(err)
		return
	}
	issuer := "https://idp.example/realms/dev"
	logout := time.Now()

	// The IdP said session 3f2a… ended (e.g. a back-channel logout token).
	err = store.Add(context.Background(), revocation.Event{
		Issuer: issuer, Kind: revocation.KindSession, Value: "3f2a-session",
		Action: revocation.ActionDeny, At: logout, Source: revocation.SourceAdmin,
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	// A token of that session, issued before the logout, verifies locally...
	before := revocation.TokenFacts{Issuer: issuer, Subject: "alice", SessionID: "3f2a-session", IssuedAt: logout.Add(-time.Minute)}
	v := store.Check(before)
	fmt.Println(v.Denied, v.Reason)

	// ...and a token of another session does not match anything.
	other := before
	other.SessionID = "9c1d-session"
	fmt.Println(store.Check(other).Denied)
	// Output:
	// true sid
	// false
}
