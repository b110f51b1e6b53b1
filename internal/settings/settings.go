// Package settings is the service behind the server settings an
// administrator changes while the server runs (user_collections,
// default_private): the configuration gives their defaults, the metadata
// store keeps what was changed, and internal/access reads both
// (access.Policy.With) wherever a rule needs them, through
// bridge.Rules, so a change counts from the next request on every
// replica.
package settings

import (
	"context"
	"strconv"

	"github.com/silo-hpc/silo/internal/access"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/meta"
)

// Store is what the settings need of the metadata store.
type Store interface {
	meta.Settings
	meta.Transactor
}

// Service reads and changes the live settings.
type Service struct {
	store    Store
	defaults access.Policy
}

// New returns the settings service; defaults is the configuration's
// policy.
func New(store Store, defaults access.Policy) *Service {
	return &Service{store: store, defaults: defaults}
}

// Get returns the policy in force: signed-in users (it decides what
// they may create).
func (s *Service) Get(ctx context.Context, p auth.Principal) (access.Policy, error) {
	if err := auth.RequireUser(p); err != nil {
		return access.Policy{}, err
	}
	stored, err := s.store.GetSettings(ctx)
	return s.defaults.With(stored), err
}

// Change changes settings; nil fields stay.
type Change struct {
	UserCollections *bool
	DefaultPrivate  *bool
}

// Update stores a change: administrators. It returns the policy in
// force afterwards.
func (s *Service) Update(ctx context.Context, p auth.Principal, c Change) (access.Policy, error) {
	if err := auth.RequireAdmin(p); err != nil {
		return access.Policy{}, err
	}
	var pol access.Policy
	err := meta.Tx(ctx, s.store, func(tx Store) error {
		stored, err := tx.GetSettings(ctx)
		if err != nil {
			return err
		}
		// Only what changes is stored: a setting never changed keeps
		// following the configuration.
		for key, v := range map[string]*bool{access.SettingUserCollections: c.UserCollections, access.SettingDefaultPrivate: c.DefaultPrivate} {
			if v == nil {
				continue
			}
			stored[key] = strconv.FormatBool(*v)
			if err := tx.PutSetting(ctx, key, stored[key]); err != nil {
				return err
			}
		}
		pol = s.defaults.With(stored)
		return nil
	})
	return pol, err
}
