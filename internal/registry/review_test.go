package registry

import (
	"context"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/silo-hpc/silo/internal/apperr"
)

// A token without an expiry is not accepted, even correctly signed: every
// token Silo issues expires, so one that does not was not made by Token.
func TestTokenWithoutExpiryRejected(t *testing.T) {
	s, _ := newService(t)
	c := claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: issuer, Subject: "alice"}, Kind: kindAccess, UserID: "x",
		Access: []grantClaim{{Type: "repository", Name: "alice/app", Actions: []string{"pull"}}}}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.cfg.SigningKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(context.Background(), Credentials{Bearer: tok}); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("token without exp: %v", err)
	}
}
