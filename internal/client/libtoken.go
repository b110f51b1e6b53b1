package client

import (
	"context"
	"fmt"
	"net/http"

	"github.com/silo-hpc/silo/internal/apperr"
)

// Library API tokens: Singularity's `remote login --tokenfile` refuses
// tokens outside these lengths, and Silo issues tokens that fit.
const (
	MinTokenLength = 200
	MaxTokenLength = 4096
)

// CheckTokenLength rejects a token no Silo server could have issued
// before it is sent anywhere.
func CheckTokenLength(token string) error {
	switch n := len(token); {
	case n < MinTokenLength:
		return apperr.New(apperr.Invalid, "token is too short (%d characters); Silo tokens are at least %d", n, MinTokenLength)
	case n > MaxTokenLength:
		return apperr.New(apperr.Invalid, "token is too long (%d characters); Silo tokens are at most %d", n, MaxTokenLength)
	}
	return nil
}

// VerifyToken asks GET <tokenURI>/v1/token-status with the bearer token
// (docs/protocols/library-api.md §3.1); only 200 means valid. The messages follow
// Singularity's "error response from server: ..." with the texts the seed
// shows for a rejected token.
func VerifyToken(ctx context.Context, hc *http.Client, tokenURI, token string) error {
	req, err := newRequest(ctx, http.MethodGet, tokenURI+"/v1/token-status")
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := orDefault(hc).Do(req)
	if err != nil {
		return fmt.Errorf("error making request to server: %w", err)
	}
	defer drain(resp)
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return apperr.New(apperr.Unauthenticated, "error response from server: Invalid Token")
	case http.StatusInternalServerError:
		return fmt.Errorf("error response from server: Internal Server Error")
	}
	return fmt.Errorf("error response from server: Unknown (%s)", resp.Status)
}
