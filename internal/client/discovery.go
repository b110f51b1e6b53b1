package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// DiscoveryPath is where a Library API server describes its services
// (docs/protocols/library-api.md §2); not /assets/config.json.
const DiscoveryPath = "/assets/config/config.prod.json"

// Service is one entry of the discovery document.
type Service struct {
	Name        string // "library", "token", "keyserver", ...
	URI         string // base URL, no trailing slash
	RegistryURI string // libraryAPI.registryUri, if any
}

// Services maps service names to their entries.
type Services map[string]Service

// Names lists the services in order.
func (s Services) Names() []string {
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Discover fetches base + DiscoveryPath and reads it as Singularity does
// (docs/protocols/library-api.md §2.2): a map of objects; a key ending in "API" names a
// service whose "uri" string is its base URL; entries without a string uri
// are skipped; "keystore" is the keyserver.
func Discover(ctx context.Context, hc *http.Client, base string) (Services, error) {
	u := strings.TrimSuffix(base, "/") + DiscoveryPath
	req, err := newRequest(ctx, http.MethodGet, u)
	if err != nil {
		return nil, err
	}
	resp, err := orDefault(hc).Do(req)
	if err != nil {
		return nil, fmt.Errorf("error making request to server: %w", err)
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("error response from server: GET %s: %s", u, resp.Status)
	}
	var doc map[string]map[string]any
	if err := decodeJSON(resp.Body, &doc); err != nil {
		return nil, fmt.Errorf("invalid service discovery document at %s: %w", u, err)
	}
	services := Services{}
	for key, v := range doc {
		uri, ok := v["uri"].(string)
		name := strings.TrimSuffix(key, "API")
		if !ok || name == "" {
			continue
		}
		if name == "keystore" {
			name = "keyserver"
		}
		s := Service{Name: name, URI: strings.TrimSuffix(uri, "/")}
		s.RegistryURI, _ = v["registryUri"].(string)
		services[name] = s
	}
	return services, nil
}

// jsonData decodes the {"data": ...} envelope of the Library API.
func jsonData(resp *http.Response, v any) error {
	var env struct {
		Data  json.RawMessage `json:"data"`
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := decodeJSON(resp.Body, &env); err != nil {
		return err
	}
	if env.Error != nil {
		return fmt.Errorf("%s (%d)", env.Error.Message, env.Error.Code)
	}
	if len(env.Data) == 0 {
		return fmt.Errorf("response has no data")
	}
	return json.Unmarshal(env.Data, v)
}
