package libraryapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/library"
	"github.com/silo-hpc/silo/internal/meta"
)

// The JSON objects below are the client's models (LA §6) as the Go
// client decodes them: ids are strings, sizes integers, times RFC 3339 or
// null (LA §1.5). Keys the client ignores are kept where they help curl
// users (names next to ids).

// stamp is a time that encodes as RFC 3339, or null when unset.
type stamp time.Time

func (t stamp) MarshalJSON() ([]byte, error) {
	if time.Time(t).IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(time.Time(t).UTC().Format(time.RFC3339Nano))
}

// baseModel is the client's BaseModel (LA §6.1).
type baseModel struct {
	Deleted   bool   `json:"deleted"`
	CreatedBy string `json:"createdBy"`
	CreatedAt stamp  `json:"createdAt"`
	UpdatedAt stamp  `json:"updatedAt"`
	DeletedAt stamp  `json:"deletedAt"`
	Owner     string `json:"owner,omitempty"`
}

type entityJSON struct {
	baseModel
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Description    string   `json:"description"`
	Collections    []string `json:"collections"`
	Size           int64    `json:"size"`
	Quota          int64    `json:"quota"`
	DefaultPrivate bool     `json:"defaultPrivate"`
	CustomData     string   `json:"customData"`
}

func entityView(e meta.Entity, cols []meta.Collection) entityJSON {
	v := entityJSON{
		baseModel: baseModel{CreatedAt: stamp(e.CreatedAt), UpdatedAt: stamp(e.CreatedAt), Owner: e.OwnerID, CreatedBy: e.OwnerID},
		ID:        e.ID, Name: e.Name, Description: e.Description, Collections: []string{}, DefaultPrivate: e.DefaultPrivate,
	}
	for _, c := range cols {
		v.Collections = append(v.Collections, c.ID)
	}
	return v
}

type collectionJSON struct {
	baseModel
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Entity      string   `json:"entity"`
	EntityName  string   `json:"entityName"`
	Containers  []string `json:"containers"`
	Size        int64    `json:"size"`
	Private     bool     `json:"private"`
	CustomData  string   `json:"customData"`
}

func collectionView(e meta.Entity, c meta.Collection, cons []meta.Container) collectionJSON {
	v := collectionJSON{
		baseModel: baseModel{CreatedAt: stamp(c.CreatedAt), UpdatedAt: stamp(c.UpdatedAt), Owner: c.OwnerID, CreatedBy: c.OwnerID},
		ID:        c.ID, Name: c.Name, Description: c.Description, Entity: e.ID, EntityName: e.Name,
		Containers: []string{}, Private: c.Private,
	}
	for _, k := range cons {
		v.Containers = append(v.Containers, k.ID)
	}
	return v
}

type containerJSON struct {
	baseModel
	ID              string                       `json:"id"`
	Name            string                       `json:"name"`
	Description     string                       `json:"description"`
	FullDescription string                       `json:"fullDescription"`
	Collection      string                       `json:"collection"`
	Images          []string                     `json:"images"`
	ImageTags       map[string]string            `json:"imageTags"`
	ArchTags        map[string]map[string]string `json:"archTags"`
	Size            int64                        `json:"size"`
	DownloadCount   int64                        `json:"downloadCount"`
	Stars           int                          `json:"stars"`
	Private         bool                         `json:"private"`
	ReadOnly        bool                         `json:"readOnly"`
	Frozen          bool                         `json:"frozen"` // Silo: same as readOnly
	CustomData      string                       `json:"customData"`
	Entity          string                       `json:"entity"`
	EntityName      string                       `json:"entityName"`
	CollectionName  string                       `json:"collectionName"`
}

func containerView(info library.ContainerInfo) containerJSON {
	k := info.Container
	v := containerJSON{
		baseModel: baseModel{CreatedAt: stamp(k.CreatedAt), UpdatedAt: stamp(k.UpdatedAt), Owner: info.Collection.OwnerID},
		ID:        k.ID, Name: k.Name, Description: k.Description, Collection: info.Collection.ID,
		Images: []string{}, ImageTags: v1TagMap(info.Tags), ArchTags: v2TagMap(info.Tags),
		Private: info.Collection.Private, ReadOnly: k.Frozen, Frozen: k.Frozen,
		Entity: info.Entity.ID, EntityName: info.Entity.Name, CollectionName: info.Collection.Name,
	}
	for _, img := range info.Images {
		v.Images = append(v.Images, img.ID)
		v.Size += img.Size
		v.DownloadCount += img.Downloads
	}
	return v
}

// v1TagMap flattens per-arch tags for v1 clients: an architecture-less tag
// wins, then amd64 (the library's historical only arch), then the first.
func v1TagMap(tags []meta.LibraryTag) map[string]string {
	rank := func(arch string) int {
		switch arch {
		case "":
			return 0
		case "amd64":
			return 1
		}
		return 2
	}
	out := map[string]string{}
	best := map[string]int{}
	for _, t := range tags {
		if r, seen := best[t.Tag]; !seen || rank(t.Arch) < r {
			out[t.Tag], best[t.Tag] = t.ImageID, rank(t.Arch)
		}
	}
	return out
}

// v2TagMap groups tags by architecture (LA §6.6 ArchTagMap).
func v2TagMap(tags []meta.LibraryTag) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, t := range tags {
		if out[t.Arch] == nil {
			out[t.Arch] = map[string]string{}
		}
		out[t.Arch][t.Tag] = t.ImageID
	}
	return out
}

type imageJSON struct {
	baseModel
	ID           string   `json:"id"`
	Hash         string   `json:"hash"`
	Description  string   `json:"description"`
	Container    string   `json:"container"`
	Size         int64    `json:"size"`
	Uploaded     bool     `json:"uploaded"`
	Signed       *bool    `json:"signed,omitempty"`
	Arch         *string  `json:"arch,omitempty"`
	Fingerprints []string `json:"fingerprints,omitempty"`
	Encrypted    *bool    `json:"encrypted,omitempty"`
	// Silo additions: the check of the signatures against the keys Silo
	// holds (docs/keyserver.md).
	Verified           *bool                    `json:"verified,omitempty"`
	Signatures         []library.SignatureCheck `json:"signatures,omitempty"`
	SignaturesChecked  *time.Time               `json:"signaturesChecked,omitempty"`
	CustomData         string                   `json:"customData"`
	Entity             string                   `json:"entity"`
	EntityName         string                   `json:"entityName"`
	Collection         string                   `json:"collection"`
	CollectionName     string                   `json:"collectionName"`
	ContainerName      string                   `json:"containerName"`
	Tags               []string                 `json:"tags"`
	ContainerStars     int                      `json:"containerStars"`
	ContainerDownloads int64                    `json:"containerDownloads"`
}

func imageView(info library.ImageInfo) imageJSON {
	img := info.Image
	signed, encrypted, fps := library.ImageMeta(img)
	v := imageJSON{
		baseModel: baseModel{CreatedAt: stamp(img.CreatedAt), UpdatedAt: stamp(img.UpdatedAt), CreatedBy: img.CreatedBy, Owner: info.Collection.OwnerID},
		ID:        img.ID, Hash: library.HashOf(img.Digest), Description: img.Description, Container: img.ContainerID,
		Size: img.Size, Uploaded: img.Uploaded, Signed: &signed, Encrypted: &encrypted, Fingerprints: fps,
		Entity: info.Entity.ID, EntityName: info.Entity.Name, Collection: info.Collection.ID,
		CollectionName: info.Collection.Name, ContainerName: info.Container.Name, Tags: info.Tags,
	}
	if v.Tags == nil {
		v.Tags = []string{}
	}
	if img.Arch != "" {
		v.Arch = &img.Arch
	}
	verified, sigs, checked := library.Verification(img)
	v.Verified, v.Signatures = &verified, sigs
	if !checked.IsZero() {
		v.SignaturesChecked = &checked
	}
	return v
}

// maxJSONBody bounds JSON request bodies; real ones are a few hundred bytes.
const maxJSONBody = 1 << 20

// decodeJSON reads a JSON body whatever its Content-Type: the Sylabs
// client never sets one (LA §1.4). An empty body decodes as {}.
func decodeJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err != nil {
		return apperr.Wrap(apperr.Invalid, err, "reading request body")
	}
	if len(b) > maxJSONBody {
		return apperr.New(apperr.TooLarge, "request body over %d bytes", maxJSONBody)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return apperr.Wrap(apperr.Invalid, err, "malformed JSON body: field %q has the wrong type", ute.Field)
		}
		return apperr.Wrap(apperr.Invalid, err, "malformed JSON body")
	}
	return nil
}

// looseID is an id field that also accepts a JSON number: seed 003's curl
// example sends "entity": 1.
type looseID string

func (l *looseID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*l = looseID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	if _, err := strconv.ParseInt(string(n), 10, 64); err != nil {
		return err
	}
	*l = looseID(n)
	return nil
}
