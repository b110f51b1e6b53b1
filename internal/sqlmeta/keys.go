package sqlmeta

import (
	"context"
	"strings"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

// The keyserver's keys, the signers of stored SIFs and collections'
// signature rules (meta.Keyring; 0009_keyring.sql).

const pgpKeyCols = `k.fingerprint, k.owner_id, u.name, k.algorithm, k.bits, k.created_at, k.expires_at, k.revoked,
	k.user_ids, k.armored, k.added_at, k.updated_at`

// pgpKeyRows is the FROM clause pgpKeyCols reads.
const pgpKeyRows = ` FROM pgp_keys k CROSS JOIN users u`

func scanPGPKey(r scanner) (meta.PGPKey, error) {
	var k meta.PGPKey
	var created, expires, added, updated int64
	var uids string
	err := r.Scan(&k.Fingerprint, &k.OwnerID, &k.OwnerName, &k.Algorithm, &k.Bits, &created, &expires, &k.Revoked,
		&uids, &k.Armored, &added, &updated)
	k.CreatedAt, k.ExpiresAt, k.AddedAt, k.UpdatedAt = fromDB(created), fromDB(expires), fromDB(added), fromDB(updated)
	if uids != "" {
		k.UserIDs = strings.Split(uids, "\n")
	}
	return k, err
}

// nextGeneration numbers a key change and records it for fingerprint.
// The one-row counter is updated in the change's transaction, so changes
// are numbered in the order they commit.
func (s *Store) nextGeneration(ctx context.Context, fingerprint string) error {
	var gen int64
	err := s.writeRow(ctx, `UPDATE pgp_keyring_generation SET generation = generation + 1 WHERE id = 1 RETURNING generation`).Scan(&gen)
	if err != nil {
		return mapErr(err, "keyring generation")
	}
	_, err = s.exec(ctx, "key change", `INSERT INTO pgp_key_changes (fingerprint, generation) VALUES (?, ?)
		ON CONFLICT (fingerprint) DO UPDATE SET generation = excluded.generation`, fingerprint, gen)
	return err
}

func (s *Store) PutPGPKey(ctx context.Context, k *meta.PGPKey) error {
	return s.InTx(ctx, func(tx meta.Store) error {
		t := tx.(*Store)
		at := now()
		if k.AddedAt.IsZero() {
			k.AddedAt = at
		}
		k.UpdatedAt = at
		uids := strings.Join(k.UserIDs, "\n")
		_, err := t.exec(ctx, "key", `INSERT INTO pgp_keys (fingerprint, owner_id, algorithm, bits, created_at, expires_at, revoked,
			user_ids, user_ids_lower, armored, added_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (fingerprint) DO UPDATE SET owner_id = excluded.owner_id, algorithm = excluded.algorithm,
			bits = excluded.bits, created_at = excluded.created_at, expires_at = excluded.expires_at,
			revoked = excluded.revoked, user_ids = excluded.user_ids, user_ids_lower = excluded.user_ids_lower,
			armored = excluded.armored, updated_at = excluded.updated_at`,
			k.Fingerprint, k.OwnerID, k.Algorithm, k.Bits, toDB(k.CreatedAt), toDB(k.ExpiresAt), k.Revoked,
			uids, "\n"+strings.ToLower(uids)+"\n", k.Armored, toDB(k.AddedAt), toDB(k.UpdatedAt))
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, "key ids", `DELETE FROM pgp_key_ids WHERE key_fingerprint = ?`, k.Fingerprint); err != nil {
			return err
		}
		for _, id := range k.IDs {
			if _, err := t.exec(ctx, "key ids", `INSERT INTO pgp_key_ids (key_fingerprint, fingerprint, key_id, short_id)
				VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, k.Fingerprint, id.Fingerprint, id.KeyID, id.ShortID); err != nil {
				return err
			}
		}
		return t.nextGeneration(ctx, k.Fingerprint)
	})
}

func (s *Store) GetPGPKey(ctx context.Context, fingerprint string) (meta.PGPKey, error) {
	k, err := scanPGPKey(s.queryRow(ctx, `SELECT `+pgpKeyCols+pgpKeyRows+` WHERE k.fingerprint = ? AND u.id = k.owner_id`, fingerprint))
	if err != nil {
		return k, mapErr(err, "key "+fingerprint)
	}
	keys := []meta.PGPKey{k}
	err = s.addKeyIDs(ctx, keys)
	return keys[0], err
}

func (s *Store) FindPGPKeys(ctx context.Context, q meta.PGPKeyQuery) ([]meta.PGPKey, error) {
	var w where
	w.add(`u.id = k.owner_id`)
	switch {
	case q.Fingerprint != "":
		w.add(`k.fingerprint IN (SELECT key_fingerprint FROM pgp_key_ids WHERE fingerprint = ?)`, q.Fingerprint)
	case q.KeyID != "":
		w.add(`k.fingerprint IN (SELECT key_fingerprint FROM pgp_key_ids WHERE key_id = ?)`, q.KeyID)
	case q.ShortID != "":
		w.add(`k.fingerprint IN (SELECT key_fingerprint FROM pgp_key_ids WHERE short_id = ?)`, q.ShortID)
	case q.Exact:
		// A whole user ID, or the e-mail address of one ("…<text>"): the
		// lower-case list starts and ends with a newline.
		text := strings.ToLower(q.Text)
		w.add(`(k.user_ids_lower LIKE ? ESCAPE '\' OR k.user_ids_lower LIKE ? ESCAPE '\')`,
			likePattern("\n"+text+"\n"), "%<"+likeEscape(text)+">\n%")
	default:
		w.add(`k.user_ids_lower LIKE ? ESCAPE '\'`, likePattern(strings.ToLower(q.Text)))
	}
	var b sqlText
	b.add(`SELECT ` + pgpKeyCols + pgpKeyRows)
	w.write(&b)
	limit := q.Limit
	if limit <= 0 {
		limit = 1 << 30
	}
	b.add(` ORDER BY k.fingerprint LIMIT ? OFFSET ?`, limit, max(q.Offset, 0))
	keys, err := queryAll(ctx, s, "keys", scanPGPKey, b.String(), b.args...)
	if err != nil {
		return nil, err
	}
	return keys, s.addKeyIDs(ctx, keys)
}

// likeEscape escapes LIKE's wildcards (ESCAPE '\').
func likeEscape(text string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(text)
}

func (s *Store) ListPGPKeys(ctx context.Context, ownerID string) ([]meta.PGPKey, error) {
	var w where
	w.add(`u.id = k.owner_id`)
	if ownerID != "" {
		w.add(`k.owner_id = ?`, ownerID)
	}
	var b sqlText
	b.add(`SELECT ` + pgpKeyCols + pgpKeyRows)
	w.write(&b)
	b.add(` ORDER BY k.fingerprint`)
	keys, err := queryAll(ctx, s, "keys", scanPGPKey, b.String(), b.args...)
	if err != nil {
		return nil, err
	}
	return keys, s.addKeyIDs(ctx, keys)
}

// addKeyIDs fills each key's IDs in one query.
func (s *Store) addKeyIDs(ctx context.Context, keys []meta.PGPKey) error {
	if len(keys) == 0 {
		return nil
	}
	fps := make([]string, len(keys))
	at := make(map[string]int, len(keys))
	for i, k := range keys {
		fps[i], at[k.Fingerprint] = k.Fingerprint, i
	}
	in, args := inList(fps)
	type row struct {
		key string
		id  meta.PGPKeyID
	}
	rows, err := queryAll(ctx, s, "key ids", func(r scanner) (row, error) {
		var x row
		return x, r.Scan(&x.key, &x.id.Fingerprint, &x.id.KeyID, &x.id.ShortID)
	}, `SELECT key_fingerprint, fingerprint, key_id, short_id FROM pgp_key_ids WHERE key_fingerprint IN `+in+
		` ORDER BY key_fingerprint, CASE WHEN fingerprint = key_fingerprint THEN 0 ELSE 1 END, fingerprint`, args...)
	for _, x := range rows {
		keys[at[x.key]].IDs = append(keys[at[x.key]].IDs, x.id)
	}
	return err
}

func (s *Store) DeletePGPKey(ctx context.Context, fingerprint string) error {
	return s.InTx(ctx, func(tx meta.Store) error {
		t := tx.(*Store)
		if err := t.execOne(ctx, "key "+fingerprint, `DELETE FROM pgp_keys WHERE fingerprint = ?`, fingerprint); err != nil {
			return err
		}
		return t.nextGeneration(ctx, fingerprint)
	})
}

func (s *Store) KeyringGeneration(ctx context.Context) (int64, error) {
	var gen int64
	err := s.queryRow(ctx, `SELECT generation FROM pgp_keyring_generation WHERE id = 1`).Scan(&gen)
	return gen, mapErr(err, "keyring generation")
}

func (s *Store) RecordSIFSigners(ctx context.Context, digest string, fingerprints []string, generation int64, at time.Time) error {
	for _, fp := range fingerprints {
		// The older check wins: if a key changed since, the image is
		// checked again (with every image of the digest).
		_, err := s.exec(ctx, "signers", `INSERT INTO sif_signers (digest, fingerprint, checked, checked_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (digest, fingerprint) DO UPDATE SET
			checked = CASE WHEN excluded.checked < sif_signers.checked THEN excluded.checked ELSE sif_signers.checked END,
			checked_at = CASE WHEN excluded.checked_at < sif_signers.checked_at THEN excluded.checked_at ELSE sif_signers.checked_at END`,
			digest, fp, generation, toDB(at))
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) SetSIFSignersChecked(ctx context.Context, digest string, generation int64, at time.Time) error {
	_, err := s.exec(ctx, "signers", `UPDATE sif_signers SET checked = ?, checked_at = ? WHERE digest = ?`,
		generation, toDB(at), digest)
	return err
}

func (s *Store) DeleteSIFSigners(ctx context.Context, digest string) error {
	_, err := s.exec(ctx, "signers", `DELETE FROM sif_signers WHERE digest = ?`, digest)
	return err
}

func (s *Store) ListStaleSigners(ctx context.Context, at time.Time, limit int) ([]string, error) {
	return queryAll(ctx, s, "stale signers", func(r scanner) (string, error) {
		var d string
		return d, r.Scan(&d)
	}, `SELECT DISTINCT s.digest FROM sif_signers s
		WHERE EXISTS (SELECT 1 FROM pgp_key_changes c WHERE c.fingerprint = s.fingerprint AND c.generation > s.checked)
		OR EXISTS (SELECT 1 FROM pgp_keys k WHERE k.fingerprint = s.fingerprint
			AND k.expires_at > s.checked_at AND k.expires_at <= ?)
		ORDER BY s.digest LIMIT ?`, toDB(at), limitOf(limit))
}

func (s *Store) GetSignaturePolicy(ctx context.Context, collectionID string) (meta.SignaturePolicy, error) {
	p := meta.SignaturePolicy{CollectionID: collectionID}
	var fps string
	var at int64
	err := s.queryRow(ctx, `SELECT fingerprints, updated_by, updated_at FROM signature_policies WHERE collection_id = ?`,
		collectionID).Scan(&fps, &p.UpdatedBy, &at)
	if err != nil {
		return p, mapErr(err, "signature policy")
	}
	p.UpdatedAt = fromDB(at)
	if fps != "" {
		p.Fingerprints = strings.Split(fps, "\n")
	}
	return p, nil
}

func (s *Store) PutSignaturePolicy(ctx context.Context, p *meta.SignaturePolicy) error {
	p.UpdatedAt = now()
	// INSERT ... SELECT so a missing collection is NotFound rather than a
	// foreign-key failure each database words differently.
	res, err := s.exec(ctx, "signature policy", `INSERT INTO signature_policies (collection_id, fingerprints, updated_by, updated_at)
		SELECT id, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT) FROM collections WHERE id = ?
		ON CONFLICT (collection_id) DO UPDATE SET fingerprints = excluded.fingerprints,
		updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
		strings.Join(p.Fingerprints, "\n"), p.UpdatedBy, toDB(p.UpdatedAt), p.CollectionID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return apperr.New(apperr.NotFound, "collection %s: not found", p.CollectionID)
	}
	return nil
}

func (s *Store) DeleteSignaturePolicy(ctx context.Context, collectionID string) error {
	_, err := s.exec(ctx, "signature policy", `DELETE FROM signature_policies WHERE collection_id = ?`, collectionID)
	return err
}
