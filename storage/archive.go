package storage

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"contactd/contact"
)

// SidecarSchema is the version of the sidecar JSON this build writes. Readers
// accept this and every older version.
const SidecarSchema = 1

// IndexKey is where the contact index lives in the store (a single server,
// or an index rebuilt from the store by `contactd index rebuild`).
const IndexKey = "index/contacts.json"

// NodeIndexPrefix holds the indexes of the servers of a multi-node site,
// one each: a node writes only its own, readers merge them all.
const NodeIndexPrefix = "index/nodes/"

// Sidecar is the JSON stored beside each clip: every fact of the contact.
type Sidecar struct {
	Schema int `json:"schema"`
	contact.Contact
	// Media describes the clip file: container and codecs.
	Media   MediaInfo `json:"media"`
	Created time.Time `json:"created"`
}

// MediaInfo is what a reviewer's player needs to know about a clip.
type MediaInfo struct {
	Container string   `json:"container"`
	Codecs    []string `json:"codecs"`
	Bytes     int64    `json:"bytes"`
	// SHA256 is the clip file's hash, hex: evidence that it is the file
	// that was recorded (contactd verify checks it).
	SHA256 string `json:"sha256,omitempty"`
}

// Archive stores contacts (clip + sidecar) and keeps the index of them.
type Archive struct {
	Store Store
	// Location decides the calendar day in the key layout; nil means UTC.
	Location *time.Location
	// Node names this server when several share the store: it keeps its
	// own index (NodeIndexPrefix + Node + ".json"). Empty: the one index.
	Node string
}

// OwnIndexKey is the index this archive writes.
func (a *Archive) OwnIndexKey() string {
	if a.Node == "" {
		return IndexKey
	}
	return NodeIndexPrefix + a.Node + ".json"
}

// ClipKey is clips/{site}/{station}/{yyyy}/{mm}/{dd}/{id}.{ext}.
func (a *Archive) ClipKey(c *contact.Contact, ext string) string {
	loc := a.Location
	if loc == nil {
		loc = time.UTC
	}
	d := c.Arrive.In(loc)
	site := c.Site
	if site == "" {
		site = "default"
	}
	return fmt.Sprintf("clips/%s/%s/%04d/%02d/%02d/%s.%s", site, c.Station, d.Year(), d.Month(), d.Day(), c.ID, ext)
}

// SidecarKey is the sidecar beside a clip key.
func SidecarKey(clipKey string) string {
	return strings.TrimSuffix(clipKey, path.Ext(clipKey)) + ".json"
}

// SaveContact stores the clip file (none if clipFile is empty) and then the
// sidecar. The sidecar goes last: a sidecar in the store means the clip it
// names is complete.
func (a *Archive) SaveContact(ctx context.Context, c *contact.Contact, clipFile string, media MediaInfo) (*Sidecar, error) {
	if clipFile != "" {
		if err := a.putClip(ctx, c.Clip, clipFile, &media, objectTags(c)); err != nil {
			return nil, err
		}
	}
	return a.SaveSidecar(ctx, c, media)
}

func objectTags(c *contact.Contact) map[string]string {
	return map[string]string{"set": string(c.Set), "station": c.Station}
}

// SaveSidecar writes (or rewrites, when a late rating changes the set) the
// sidecar of a contact whose clip, if any, is already stored.
func (a *Archive) SaveSidecar(ctx context.Context, c *contact.Contact, media MediaInfo) (*Sidecar, error) {
	key := c.Clip
	if key == "" {
		key = a.ClipKey(c, "none")
	}
	sc := &Sidecar{Schema: SidecarSchema, Contact: *c, Media: media, Created: time.Now().UTC()}
	b, err := json.MarshalIndent(sc, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := a.Store.Put(ctx, SidecarKey(key), bytes.NewReader(b), int64(len(b)),
		PutOptions{ContentType: "application/json", Tags: objectTags(c)}); err != nil {
		return nil, err
	}
	return sc, nil
}

func (a *Archive) putClip(ctx context.Context, key, file string, media *MediaInfo, tags map[string]string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	media.Bytes = st.Size()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("hashing %s: %w", file, err)
	}
	media.SHA256 = hex.EncodeToString(h.Sum(nil))
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	ctype := "video/webm"
	if media.Container == "matroska" {
		ctype = "video/x-matroska"
	}
	return a.Store.Put(ctx, key, f, st.Size(), PutOptions{ContentType: ctype, Tags: tags})
}

// SaveOrphan stores a rating that matched no contact, so it is listed, not lost.
func (a *Archive) SaveOrphan(ctx context.Context, site string, r contact.Rating) error {
	if site == "" {
		site = "default"
	}
	loc := a.Location
	if loc == nil {
		loc = time.UTC
	}
	d := r.At.In(loc)
	key := fmt.Sprintf("orphans/%s/%s/%04d/%02d/%02d/%s-%d.json", site, r.Station, d.Year(), d.Month(), d.Day(),
		r.At.UTC().Format("20060102T150405.000000000Z"), r.Value)
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return a.Store.Put(ctx, key, bytes.NewReader(b), int64(len(b)), PutOptions{ContentType: "application/json"})
}

// ParseSidecar decodes and checks a sidecar; key names it in errors.
func ParseSidecar(b []byte, key string) (*Sidecar, error) {
	var sc Sidecar
	if err := json.Unmarshal(b, &sc); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	switch {
	case sc.Schema < 1 || sc.Schema > SidecarSchema:
		return nil, fmt.Errorf("%s: field \"schema\": version %d, this build reads 1..%d", key, sc.Schema, SidecarSchema)
	case sc.ID == "":
		return nil, fmt.Errorf("%s: field \"id\": missing", key)
	case !contact.ValidStation(sc.Station):
		return nil, fmt.Errorf("%s: field \"station\": %q is not a station id", key, sc.Station)
	case sc.Leave.Before(sc.Arrive):
		return nil, fmt.Errorf("%s: field \"leave\": before arrive", key)
	}
	switch sc.Set {
	case contact.Positive, contact.Negative, contact.Neutral, contact.Unrated:
	default:
		return nil, fmt.Errorf("%s: field \"set\": unknown set %q", key, sc.Set)
	}
	return &sc, nil
}

// ReadSidecar loads one sidecar.
func (a *Archive) ReadSidecar(ctx context.Context, key string) (*Sidecar, error) {
	rc, err := a.Store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return ParseSidecar(b, key)
}

// Entry is one contact in the index: enough to list and filter.
type Entry struct {
	ID       string         `json:"id"`
	Site     string         `json:"site"`
	Station  string         `json:"station"`
	Employee string         `json:"employee,omitempty"`
	Arrive   time.Time      `json:"arrive"`
	Leave    time.Time      `json:"leave"`
	Set      contact.Set    `json:"set"`
	Flags    []contact.Flag `json:"flags"`
	Rating   *contact.Press `json:"rating"`
	Clip     string         `json:"clip"`
	// Likely is the contact's likely-negative score and its top reasons.
	Likely *contact.Likely `json:"likely_negative,omitempty"`
}

// Index lists every contact in the store. It is a cache: Rebuild makes it
// again from the sidecars alone.
type Index struct {
	Schema   int       `json:"schema"`
	Built    time.Time `json:"built"`
	Contacts []Entry   `json:"contacts"`
}

func entryOf(sc *Sidecar) Entry {
	c := sc.Contact
	return Entry{ID: c.ID, Site: c.Site, Station: c.Station, Employee: c.Employee, Arrive: c.Arrive, Leave: c.Leave,
		Set: c.Set, Flags: c.Flags, Rating: c.Rating, Clip: c.Clip, Likely: c.Likely}
}

// Rebuild reads every sidecar under clips/ and writes a fresh index. A bad
// sidecar is reported and skipped; the rest are indexed.
func (a *Archive) Rebuild(ctx context.Context, progress func(n int)) (*Index, []error, error) {
	ix := &Index{Schema: 1}
	var bad []error
	n := 0
	for key, err := range a.Store.List(ctx, "clips/") {
		if err != nil {
			return nil, bad, err
		}
		if !strings.HasSuffix(key, ".json") {
			continue
		}
		sc, err := a.ReadSidecar(ctx, key)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		ix.Contacts = append(ix.Contacts, entryOf(sc))
		n++
		if progress != nil {
			progress(n)
		}
	}
	return ix, bad, a.writeIndex(ctx, ix)
}

// Upsert adds or replaces contacts in the index, building the index first
// from the store if there is none yet.
func (a *Archive) Upsert(ctx context.Context, scs []*Sidecar) error {
	ix, err := a.readIndex(ctx, a.OwnIndexKey())
	switch {
	case errors.Is(err, ErrNotFound) && a.Node != "":
		ix = &Index{Schema: 1} // a node's index holds what it stored itself
	case errors.Is(err, ErrNotFound):
		if ix, _, err = a.Rebuild(ctx, nil); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	pos := map[string]int{}
	for i, e := range ix.Contacts {
		pos[e.ID] = i
	}
	for _, sc := range scs {
		if i, ok := pos[sc.ID]; ok {
			ix.Contacts[i] = entryOf(sc)
		} else {
			pos[sc.ID] = len(ix.Contacts)
			ix.Contacts = append(ix.Contacts, entryOf(sc))
		}
	}
	return a.writeIndex(ctx, ix)
}

func (a *Archive) writeIndex(ctx context.Context, ix *Index) error {
	slices.SortFunc(ix.Contacts, func(x, y Entry) int {
		if c := x.Arrive.Compare(y.Arrive); c != 0 {
			return c
		}
		return cmp.Compare(x.ID, y.ID)
	})
	if ix.Contacts == nil {
		ix.Contacts = []Entry{}
	}
	ix.Built = time.Now().UTC()
	b, err := json.Marshal(ix)
	if err != nil {
		return err
	}
	return a.Store.Put(ctx, a.OwnIndexKey(), bytes.NewReader(b), int64(len(b)), PutOptions{ContentType: "application/json"})
}

func (a *Archive) readIndex(ctx context.Context, key string) (*Index, error) {
	rc, err := a.Store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var ix Index
	if err := json.NewDecoder(rc).Decode(&ix); err != nil {
		return nil, fmt.Errorf("%s: %w (rebuild it with 'contactd index rebuild')", key, err)
	}
	return &ix, nil
}

// LoadIndex reads the index: the one index and every node's, merged (for a
// contact in several, the entry of the index built last); ErrNotFound if
// none was ever built.
func (a *Archive) LoadIndex(ctx context.Context) (*Index, error) {
	keys := []string{IndexKey}
	if a.Node != "" {
		keys = append(keys, a.OwnIndexKey())
	}
	var listErr error
	for k, err := range a.Store.List(ctx, NodeIndexPrefix) {
		if err != nil {
			// The store unreachable (an upload queue rides it out): the
			// indexes this archive can still read are the list for now.
			listErr = err
			break
		}
		if strings.HasSuffix(k, ".json") && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	var ixs []*Index
	var readErr error
	for _, k := range keys {
		ix, err := a.readIndex(ctx, k)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			readErr = err
			continue
		}
		ixs = append(ixs, ix)
	}
	if readErr != nil && (listErr == nil || len(ixs) == 0) {
		return nil, errors.Join(readErr, listErr) // reachable but unreadable: say so
	}
	switch len(ixs) {
	case 0:
		return nil, fmt.Errorf("%s: %w", IndexKey, ErrNotFound)
	case 1:
		return ixs[0], nil
	}
	slices.SortFunc(ixs, func(x, y *Index) int { return y.Built.Compare(x.Built) }) // newest first
	out := &Index{Schema: 1, Built: ixs[0].Built}
	seen := map[string]bool{}
	for _, ix := range ixs {
		for _, e := range ix.Contacts {
			if !seen[e.ID] {
				seen[e.ID] = true
				out.Contacts = append(out.Contacts, e)
			}
		}
	}
	slices.SortFunc(out.Contacts, func(x, y Entry) int {
		if c := x.Arrive.Compare(y.Arrive); c != 0 {
			return c
		}
		return cmp.Compare(x.ID, y.ID)
	})
	return out, nil
}

// Filter selects index entries; zero fields match everything.
type Filter struct {
	Set      contact.Set
	Station  string
	From, To time.Time // arrive in [From, To)
}

// Query returns the entries matching f, in arrive order.
func (ix *Index) Query(f Filter) []Entry {
	var out []Entry
	for _, e := range ix.Contacts {
		if (f.Set == "" || e.Set == f.Set) && (f.Station == "" || e.Station == f.Station) &&
			(f.From.IsZero() || !e.Arrive.Before(f.From)) && (f.To.IsZero() || e.Arrive.Before(f.To)) {
			out = append(out, e)
		}
	}
	return out
}

// SidecarKeyOf is where an index entry's sidecar lives.
func (a *Archive) SidecarKeyOf(e *Entry) string {
	if e.Clip != "" {
		return SidecarKey(e.Clip)
	}
	return SidecarKey(a.ClipKey(&contact.Contact{ID: e.ID, Site: e.Site, Station: e.Station, Arrive: e.Arrive}, "none"))
}

// Day is the calendar day (YYYY-MM-DD) an entry's keys are filed under.
func (a *Archive) Day(e *Entry) string {
	loc := a.Location
	if loc == nil {
		loc = time.UTC
	}
	return e.Arrive.In(loc).Format(time.DateOnly)
}

// Remove takes contacts out of this archive's index (their files are the
// caller's); other nodes take them out of theirs when they find them gone.
func (a *Archive) Remove(ctx context.Context, ids []string) error {
	ix, err := a.readIndex(ctx, a.OwnIndexKey())
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	gone := map[string]bool{}
	for _, id := range ids {
		gone[id] = true
	}
	ix.Contacts = slices.DeleteFunc(ix.Contacts, func(e Entry) bool { return gone[e.ID] })
	return a.writeIndex(ctx, ix)
}
