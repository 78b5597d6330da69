// Package retention deletes contacts whose time is up, by set, except those
// under a legal hold. A deletion removes the clip, the sidecar and the index
// entry together and leaves a tombstone, so the signed day manifest still
// verifies and says the contact was removed on purpose.
package retention

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"contactd/contact"
	"contactd/evidence"
	"contactd/storage"
)

// Hold keeps a contact whatever its retention says (a complaint, a claim).
type Hold struct {
	Contact string    `json:"contact"`
	By      string    `json:"by"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
}

// HoldPrefix is where holds live in the store: beside the contacts, so
// every server of the clinic and an index rebuild see them.
const HoldPrefix = "holds/"

// HoldKey is a contact's hold.
func HoldKey(id string) string { return HoldPrefix + id + ".json" }

// SetHold puts a contact under a legal hold.
func SetHold(ctx context.Context, st storage.Store, h Hold) error {
	if !contact.ValidStation(h.Contact) { // contact ids are ULIDs: the same alphabet
		return fmt.Errorf("hold: %q is not a contact id", h.Contact)
	}
	if strings.TrimSpace(h.Reason) == "" {
		return errors.New("hold: a reason is required (the complaint or claim it is for)")
	}
	b, _ := json.Marshal(h)
	return st.Put(ctx, HoldKey(h.Contact), bytes.NewReader(b), int64(len(b)), storage.PutOptions{ContentType: "application/json"})
}

// ReleaseHold lifts a contact's hold; its retention applies again.
func ReleaseHold(ctx context.Context, st storage.Store, id string) error {
	if !contact.ValidStation(id) {
		return fmt.Errorf("hold: %q is not a contact id", id)
	}
	return st.Delete(ctx, HoldKey(id))
}

// Holds lists every hold by contact id.
func Holds(ctx context.Context, st storage.Store) (map[string]Hold, error) {
	out := map[string]Hold{}
	for k, err := range st.List(ctx, HoldPrefix) {
		if err != nil {
			return nil, err
		}
		rc, err := st.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(rc, 64<<10))
		rc.Close()
		if err != nil {
			return nil, err
		}
		var h Hold
		if err := json.Unmarshal(b, &h); err != nil || h.Contact == "" {
			// An unreadable hold still holds: better kept than deleted.
			h.Contact = strings.TrimSuffix(strings.TrimPrefix(k, HoldPrefix), ".json")
			h.Reason = "unreadable hold file " + k
		}
		out[h.Contact] = h
	}
	return out, nil
}

// Result is what one run did.
type Result struct {
	Deleted []storage.Entry `json:"deleted"`
	Held    int             `json:"held"` // due, but kept by a hold
}

// Due lists the contacts whose retention is over at now, and how many of
// those a hold keeps.
func Due(ix *storage.Index, keep func(contact.Set) time.Duration, holds map[string]Hold, now time.Time) ([]storage.Entry, int) {
	var due []storage.Entry
	held := 0
	for _, e := range ix.Contacts {
		d := keep(e.Set)
		if d <= 0 || now.Sub(e.Leave) < d {
			continue
		}
		if _, ok := holds[e.ID]; ok {
			held++
			continue
		}
		due = append(due, e)
	}
	return due, held
}

// Run deletes what is due. Each contact's tombstone goes first, then its
// clip and sidecar, then (for all of them at once) the index entries: a run
// cut short leaves contacts that the next run finishes, never a clip
// without its record.
func Run(ctx context.Context, a *storage.Archive, keep func(contact.Set) time.Duration, now time.Time, dryRun bool) (*Result, error) {
	ix, err := a.LoadIndex(ctx)
	if errors.Is(err, storage.ErrNotFound) {
		return &Result{}, nil
	}
	if err != nil {
		return nil, err
	}
	holds, err := Holds(ctx, a.Store)
	if err != nil {
		return nil, err
	}
	due, held := Due(ix, keep, holds, now)
	res := &Result{Held: held, Deleted: []storage.Entry{}}
	if dryRun {
		res.Deleted = due
		return res, nil
	}
	var ids []string
	var errs []error
	for _, e := range due {
		if err := deleteContact(ctx, a, &e, now); err != nil {
			errs = append(errs, fmt.Errorf("contact %s: %w", e.ID, err))
			continue
		}
		res.Deleted = append(res.Deleted, e)
		ids = append(ids, e.ID)
	}
	if len(ids) > 0 {
		if err := a.Remove(ctx, ids); err != nil {
			errs = append(errs, fmt.Errorf("index: %w", err))
		}
	}
	return res, errors.Join(errs...)
}

func deleteContact(ctx context.Context, a *storage.Archive, e *storage.Entry, now time.Time) error {
	site := e.Site
	if site == "" {
		site = "default"
	}
	ts := evidence.Tombstone{Contact: e.ID, Station: e.Station, Clip: e.Clip, Sidecar: a.SidecarKeyOf(e), Set: string(e.Set),
		Deleted: now.UTC(), Reason: "retention"}
	b, _ := json.Marshal(ts)
	if err := a.Store.Put(ctx, evidence.TombstoneKey(site, a.Day(e), e.ID), bytes.NewReader(b), int64(len(b)),
		storage.PutOptions{ContentType: "application/json"}); err != nil {
		return err
	}
	for _, k := range []string{e.Clip, ts.Sidecar} {
		if k == "" {
			continue
		}
		if err := a.Store.Delete(ctx, k); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
	}
	return nil
}
