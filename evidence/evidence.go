// Package evidence makes the store's recordings usable as evidence: each
// day's clips and sidecars are listed with their SHA-256 in a manifest whose
// entries are chained (each entry's hash covers the one before, and the first
// covers the previous day's manifest), signed with the clinic's Ed25519 key.
// Verify recomputes everything from the store and names the file that
// changed.
package evidence

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"contactd/storage"
)

// Schema is the manifest version this build writes and reads.
const Schema = 1

// Manifest is one site's day of contacts, signed.
type Manifest struct {
	Schema  int       `json:"schema"`
	Site    string    `json:"site"`
	Day     string    `json:"day"` // YYYY-MM-DD in the site's timezone
	Created time.Time `json:"created"`
	// Previous is the key and SHA-256 of the site's manifest before this
	// one (empty for the first): deleting or replacing a whole day breaks
	// the link.
	Previous       string  `json:"previous,omitempty"`
	PreviousSHA256 string  `json:"previous_sha256,omitempty"`
	Entries        []Entry `json:"entries"`
	// Head is the chain hash of the last entry (of Previous when empty).
	Head string `json:"head"`
	// KeyID names the signing key: the first 16 hex digits of the SHA-256
	// of its public key.
	KeyID     string `json:"key_id"`
	Signature string `json:"signature"` // base64 Ed25519 over the manifest with this field empty
}

// Entry is one contact: its sidecar and clip as they were when signed.
type Entry struct {
	Contact       string `json:"contact"`
	Station       string `json:"station"`
	Sidecar       string `json:"sidecar"`
	SidecarSHA256 string `json:"sidecar_sha256"`
	Clip          string `json:"clip,omitempty"`
	ClipSHA256    string `json:"clip_sha256,omitempty"`
	ClipBytes     int64  `json:"clip_bytes,omitempty"`
	// Chain is SHA-256(previous chain ‖ this entry's contact, files and hashes).
	Chain string `json:"chain"`
}

// Key is where a site's manifest of a day lives.
func Key(site, day string) string {
	return "manifests/" + site + "/" + strings.ReplaceAll(day, "-", "/") + ".json"
}

// TombstonePrefix holds the records of contacts deleted on purpose (by
// retention): Verify reports them as removed, not as missing.
const TombstonePrefix = "deleted/"

func link(prev string, e *Entry) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n%s\n%s\n%s\n%s\n%d\n", prev, e.Contact, e.Station, e.Sidecar, e.SidecarSHA256, e.Clip, e.ClipSHA256, e.ClipBytes)
	return hex.EncodeToString(h.Sum(nil))
}

func hashObject(ctx context.Context, st storage.Store, key string) (string, int64, []byte, error) {
	rc, err := st.Get(ctx, key)
	if err != nil {
		return "", 0, nil, err
	}
	defer rc.Close()
	h := sha256.New()
	var keep bytes.Buffer
	w := io.Writer(h)
	if strings.HasSuffix(key, ".json") {
		w = io.MultiWriter(h, &keep) // sidecars are read as well as hashed
	}
	n, err := io.Copy(w, rc)
	if err != nil {
		return "", 0, nil, fmt.Errorf("%s: %w", key, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, keep.Bytes(), nil
}

// dayKeys lists the sidecar keys of a site's day, in order.
func dayKeys(ctx context.Context, st storage.Store, site, day string) ([]string, error) {
	date := strings.ReplaceAll(day, "-", "/")
	var keys []string
	for k, err := range st.List(ctx, "clips/"+site+"/") {
		if err != nil {
			return nil, err
		}
		// clips/{site}/{station}/{yyyy}/{mm}/{dd}/{id}.{ext}
		parts := strings.Split(k, "/")
		if len(parts) == 7 && strings.HasSuffix(k, ".json") && strings.Join(parts[3:6], "/") == date {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// previous finds the site's latest manifest before day.
func previous(ctx context.Context, st storage.Store, site, day string) (key, sum string, err error) {
	this := Key(site, day)
	for k, err := range st.List(ctx, "manifests/"+site+"/") {
		if err != nil {
			return "", "", err
		}
		if strings.HasSuffix(k, ".json") && k < this {
			key = k
		}
	}
	if key == "" {
		return "", "", nil
	}
	sum, _, _, err = hashObject(ctx, st, key)
	return key, sum, err
}

// Build lists a site's day as it is in the store now and signs it.
func Build(ctx context.Context, st storage.Store, site, day string, priv ed25519.PrivateKey) (*Manifest, error) {
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		return nil, fmt.Errorf("day %q: want YYYY-MM-DD", day)
	}
	m := &Manifest{Schema: Schema, Site: site, Day: day, Created: time.Now().UTC(), Entries: []Entry{}}
	var err error
	if m.Previous, m.PreviousSHA256, err = previous(ctx, st, site, day); err != nil {
		return nil, err
	}
	chain := m.PreviousSHA256
	keys, err := dayKeys(ctx, st, site, day)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		sum, _, b, err := hashObject(ctx, st, k)
		if err != nil {
			return nil, err
		}
		sc, err := storage.ParseSidecar(b, k)
		if err != nil {
			return nil, err
		}
		e := Entry{Contact: sc.ID, Station: sc.Station, Sidecar: k, SidecarSHA256: sum, Clip: sc.Clip}
		if sc.Clip != "" {
			if e.ClipSHA256, e.ClipBytes, _, err = hashObject(ctx, st, sc.Clip); err != nil {
				return nil, err
			}
			if sc.Media.SHA256 != "" && sc.Media.SHA256 != e.ClipSHA256 {
				return nil, fmt.Errorf("%s: sha256 %s, but its sidecar %s says %s: altered before it could be signed", sc.Clip, e.ClipSHA256, k, sc.Media.SHA256)
			}
		}
		chain = link(chain, &e)
		e.Chain = chain
		m.Entries = append(m.Entries, e)
	}
	m.Head = chain
	return m, Sign(m, priv)
}

func signedBytes(m *Manifest) ([]byte, error) {
	c := *m
	c.Signature = ""
	return json.Marshal(&c)
}

// KeyID names a public key.
func KeyID(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:8])
}

// Sign sets the manifest's key id and signature.
func Sign(m *Manifest, priv ed25519.PrivateKey) error {
	if len(priv) != ed25519.PrivateKeySize {
		return errors.New("evidence: no signing key")
	}
	m.KeyID = KeyID(priv.Public().(ed25519.PublicKey))
	b, err := signedBytes(m)
	if err != nil {
		return err
	}
	m.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(priv, b))
	return nil
}

// Save stores the manifest under its key.
func Save(ctx context.Context, st storage.Store, m *Manifest) (string, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", err
	}
	key := Key(m.Site, m.Day)
	return key, st.Put(ctx, key, bytes.NewReader(b), int64(len(b)), storage.PutOptions{ContentType: "application/json"})
}

// Problem is one thing Verify found wrong, naming the file.
type Problem struct {
	File string `json:"file"`
	What string `json:"what"`
}

// Report is what Verify found for a day or a contact.
type Report struct {
	Manifest string    `json:"manifest,omitempty"`
	Checked  int       `json:"checked"` // entries (or contacts) whose files were hashed
	Removed  []string  `json:"removed,omitempty"`
	Problems []Problem `json:"problems"`
}

// OK reports whether nothing was altered, missing or added.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) add(file, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{File: file, What: fmt.Sprintf(format, args...)})
}

// ParseManifest decodes a manifest; key names it in errors.
func ParseManifest(b []byte, key string) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if m.Schema != Schema {
		return nil, fmt.Errorf("%s: field \"schema\": version %d, this build reads %d", key, m.Schema, Schema)
	}
	if _, err := time.Parse(time.DateOnly, m.Day); err != nil {
		return nil, fmt.Errorf("%s: field \"day\": %q is not YYYY-MM-DD", key, m.Day)
	}
	return &m, nil
}

// VerifyDay checks a site's day against its signed manifest: the signature
// with pub, the chain, the link to the previous manifest, and every file's
// hash; sidecars in the store that the manifest does not list are reported
// as added.
func VerifyDay(ctx context.Context, st storage.Store, site, day string, pub ed25519.PublicKey) (*Report, error) {
	key := Key(site, day)
	r := &Report{Manifest: key, Problems: []Problem{}}
	_, _, b, err := hashObject(ctx, st, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("%s: no manifest for %s at site %s (days are signed after they end; contactd evidence sign makes one now)", key, day, site)
	}
	if err != nil {
		return nil, err
	}
	m, err := ParseManifest(b, key)
	if err != nil {
		return nil, err
	}
	sb, _ := signedBytes(m)
	sig, _ := base64.StdEncoding.DecodeString(m.Signature)
	switch {
	case len(pub) != ed25519.PublicKeySize:
		return nil, errors.New("evidence: no public key to verify with (evidence.public_key or evidence.signing_key)")
	case m.KeyID != KeyID(pub):
		r.add(key, "signed by key %s, not the configured key %s", m.KeyID, KeyID(pub))
	case !ed25519.Verify(pub, sb, sig):
		r.add(key, "signature does not verify: the manifest was altered after it was signed")
	}
	if m.Previous != "" {
		sum, _, _, err := hashObject(ctx, st, m.Previous)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			r.add(m.Previous, "the previous day's manifest is missing")
		case err != nil:
			return nil, err
		case sum != m.PreviousSHA256:
			r.add(m.Previous, "the previous day's manifest was altered or replaced (sha256 %s, this manifest says %s)", sum, m.PreviousSHA256)
		}
	}
	removed, err := tombstones(ctx, st, site, day)
	if err != nil {
		return nil, err
	}
	chain := m.PreviousSHA256
	listed := map[string]bool{}
	for i := range m.Entries {
		e := &m.Entries[i]
		listed[e.Sidecar] = true
		chain = link(chain, e)
		if chain != e.Chain {
			r.add(key, "entry %d (contact %s): the chain breaks here: the manifest was edited", i+1, e.Contact)
			chain = e.Chain // report each break once
		}
		if removed[e.Contact] {
			r.Removed = append(r.Removed, e.Contact)
			continue
		}
		r.Checked++
		check := func(file, want string, wantBytes int64) {
			if file == "" {
				return
			}
			sum, n, _, err := hashObject(ctx, st, file)
			switch {
			case errors.Is(err, storage.ErrNotFound):
				r.add(file, "missing (not removed by retention)")
			case err != nil:
				r.add(file, "cannot be read: %v", err)
			case sum != want || wantBytes > 0 && n != wantBytes:
				r.add(file, "altered: sha256 %s (%d bytes), signed as %s", sum, n, want)
			}
		}
		check(e.Sidecar, e.SidecarSHA256, 0)
		check(e.Clip, e.ClipSHA256, e.ClipBytes)
	}
	if chain != m.Head {
		r.add(key, "the head hash does not match the entries: the manifest was edited")
	}
	keys, err := dayKeys(ctx, st, site, day)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if !listed[k] {
			r.add(k, "not in the signed manifest: added after the day was signed")
		}
	}
	return r, nil
}

// Tombstone is the record a deletion leaves.
type Tombstone struct {
	Contact string    `json:"contact"`
	Station string    `json:"station"`
	Clip    string    `json:"clip,omitempty"`
	Sidecar string    `json:"sidecar"`
	Set     string    `json:"set"`
	Deleted time.Time `json:"deleted"`
	Reason  string    `json:"reason"`
}

// TombstoneKey is where the record of a deleted contact goes.
func TombstoneKey(site, day, id string) string {
	return TombstonePrefix + site + "/" + strings.ReplaceAll(day, "-", "/") + "/" + id + ".json"
}

func tombstones(ctx context.Context, st storage.Store, site, day string) (map[string]bool, error) {
	out := map[string]bool{}
	for k, err := range st.List(ctx, TombstonePrefix+site+"/"+strings.ReplaceAll(day, "-", "/")+"/") {
		if err != nil {
			return nil, err
		}
		out[strings.TrimSuffix(k[strings.LastIndex(k, "/")+1:], ".json")] = true
	}
	return out, nil
}

// VerifyClip checks one contact's clip against the hash in its sidecar.
func VerifyClip(ctx context.Context, st storage.Store, sidecarKey string) (*Report, error) {
	r := &Report{Problems: []Problem{}}
	_, _, b, err := hashObject(ctx, st, sidecarKey)
	if err != nil {
		return nil, err
	}
	sc, err := storage.ParseSidecar(b, sidecarKey)
	if err != nil {
		return nil, err
	}
	if sc.Clip == "" {
		return r, nil
	}
	if sc.Media.SHA256 == "" {
		r.add(sidecarKey, "has no clip hash (written by an older version): only a signed day manifest can vouch for %s", sc.Clip)
		return r, nil
	}
	r.Checked = 1
	sum, n, _, err := hashObject(ctx, st, sc.Clip)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		r.add(sc.Clip, "missing")
	case err != nil:
		return nil, err
	case sum != sc.Media.SHA256 || n != sc.Media.Bytes:
		r.add(sc.Clip, "altered: sha256 %s (%d bytes), its sidecar says %s (%d bytes)", sum, n, sc.Media.SHA256, sc.Media.Bytes)
	}
	return r, nil
}

// GenerateKey makes a signing key and writes it (PEM, PKCS #8, mode 0600)
// to path, refusing to overwrite one; it returns the public key.
func GenerateKey(path string) (ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	if err := errors.Join(pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}), f.Close()); err != nil {
		return nil, err
	}
	return pub, nil
}

// PublicPEM encodes a public key for evidence.public_key.
func PublicPEM(pub ed25519.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// LoadPrivateKey reads a PEM PKCS #8 Ed25519 private key.
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("evidence.signing_key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("evidence.signing_key %s: not a PEM \"PRIVATE KEY\" (contactd evidence keygen makes one)", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("evidence.signing_key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("evidence.signing_key %s: a %T, want an Ed25519 key", path, k)
	}
	return priv, nil
}

// LoadPublicKey reads a PEM public key, or derives it from a private key file.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("evidence public key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk != nil && blk.Type == "PRIVATE KEY" {
		priv, err := LoadPrivateKey(path)
		if err != nil {
			return nil, err
		}
		return priv.Public().(ed25519.PublicKey), nil
	}
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("evidence public key %s: not a PEM \"PUBLIC KEY\"", path)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("evidence public key %s: %w", path, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("evidence public key %s: a %T, want Ed25519", path, k)
	}
	return pub, nil
}
