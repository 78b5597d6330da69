package storage

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Queue is a Store that puts every write on local disk first and uploads it
// to a remote store (MinIO) in the background, in the order written, retrying
// with backoff while the remote is unreachable. A Put returns once the object
// is durable locally, so a contact closing while MinIO is down is not lost,
// and the queue survives a restart (even SIGKILL): Open picks up where the
// last run stopped. Reads see pending writes.
type Queue struct {
	dir    string
	remote Store
	log    *slog.Logger
	opt    QueueOptions

	mu       sync.Mutex
	ops      []*queued          // FIFO, oldest first
	latest   map[string]*queued // the newest pending op of each key
	seq      uint64
	inflight *queued
	failures int
	lastErr  error
	uploaded int64
	drained  chan struct{} // closed and replaced each time the queue empties

	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// queued is one pending write or delete; its meta file is the commit point.
type queued struct {
	Seq         uint64            `json:"seq"`
	Key         string            `json:"key"`
	Delete      bool              `json:"delete,omitempty"`
	ContentType string            `json:"content_type,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Size        int64             `json:"size"`
	Enqueued    time.Time         `json:"enqueued"`
}

// QueueStats is the backlog, for metrics and health.
type QueueStats struct {
	Objects  int       `json:"objects"`
	Bytes    int64     `json:"bytes"`
	Oldest   time.Time `json:"oldest,omitzero"`
	Failures int       `json:"failures"` // consecutive failed attempts
	LastErr  string    `json:"last_error,omitempty"`
	Uploaded int64     `json:"uploaded"` // since start
}

// QueueOptions tune a queue; zero values take the defaults.
type QueueOptions struct {
	Log *slog.Logger
	// MinBackoff and MaxBackoff bound the wait between retries (1 s, 30 s).
	MinBackoff, MaxBackoff time.Duration
	// Keep names keys whose latest version stays on local disk (fetched at
	// start, refreshed by every upload), to be read while the remote is
	// unreachable: the index, without which no contact could be added to
	// the list during an outage.
	Keep []string
}

// ensurer is a remote that must be prepared (bucket made) before use.
type ensurer interface {
	EnsureBucket(ctx context.Context) error
}

// OpenQueue opens (and creates) the queue in dir in front of remote and
// starts uploading what an earlier run left. Close stops it.
func OpenQueue(dir string, remote Store, opt QueueOptions) (*Queue, error) {
	log := opt.Log
	if log == nil {
		log = slog.Default()
	}
	if opt.MinBackoff <= 0 {
		opt.MinBackoff = time.Second
	}
	if opt.MaxBackoff < opt.MinBackoff {
		opt.MaxBackoff = max(30*time.Second, opt.MinBackoff)
	}

	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("upload queue %s: %w", dir, err)
	}
	q := &Queue{dir: dir, remote: remote, log: log, opt: opt,
		latest: map[string]*queued{}, wake: make(chan struct{}, 1), drained: make(chan struct{}), done: make(chan struct{})}
	if err := q.load(); err != nil {
		return nil, err
	}
	if len(q.ops) == 0 {
		close(q.drained)
	} else {
		log.Info("upload queue: resuming", "dir", dir, "objects", len(q.ops))
	}
	ctx, cancel := context.WithCancel(context.Background())
	q.cancel = cancel
	go q.run(ctx)
	return q, nil
}

// load reads the pending ops left on disk; files of writes that never
// reached their commit point are removed.
func (q *Queue) load() error {
	ents, err := os.ReadDir(q.dir)
	if err != nil {
		return fmt.Errorf("upload queue %s: %w", q.dir, err)
	}
	metas := map[uint64]bool{}
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".tmp-") {
			os.Remove(filepath.Join(q.dir, name))
			continue
		}
		if e.IsDir() || !strings.HasSuffix(name, ".json") {
			continue
		}
		p := filepath.Join(q.dir, name)
		b, err := os.ReadFile(p)
		var op queued
		if err == nil {
			err = json.Unmarshal(b, &op)
		}
		if err == nil && checkKey(op.Key) != nil {
			err = fmt.Errorf("field \"key\": %q is not a store key", op.Key)
		}
		if err == nil && !op.Delete {
			if st, serr := os.Stat(q.dataPath(op.Seq)); serr != nil || st.Size() != op.Size {
				err = fmt.Errorf("its data file is missing or short")
			}
		}
		if err != nil {
			// Not lost silently: the entry is set aside for a person to look at.
			q.log.Error("upload queue: entry set aside", "file", p, "error", err)
			os.Rename(p, p+".bad")
			continue
		}
		metas[op.Seq] = true
		q.ops = append(q.ops, &op)
		q.seq = max(q.seq, op.Seq)
	}
	for _, e := range ents { // data without a meta: a write cut short
		if s, ok := strings.CutSuffix(e.Name(), ".data"); ok {
			if n, err := strconv.ParseUint(s, 10, 64); err == nil && !metas[n] {
				os.Remove(filepath.Join(q.dir, e.Name()))
			}
		}
	}
	slices.SortFunc(q.ops, func(a, b *queued) int { return cmp.Compare(a.Seq, b.Seq) })
	for _, op := range q.ops {
		q.latest[op.Key] = op
	}
	return nil
}

func (q *Queue) dataPath(seq uint64) string {
	return filepath.Join(q.dir, fmt.Sprintf("%020d.data", seq))
}
func (q *Queue) metaPath(seq uint64) string {
	return filepath.Join(q.dir, fmt.Sprintf("%020d.json", seq))
}

func (q *Queue) String() string { return q.remote.String() + " (upload queue " + q.dir + ")" }

// Put writes the object to the queue's directory, synced, and returns; the
// upload follows.
func (q *Queue) Put(ctx context.Context, key string, r io.Reader, _ int64, opt PutOptions) error {
	if err := checkKey(key); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(q.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("upload queue: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	n, err := io.Copy(tmp, ctxReader{ctx, r})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("upload queue: writing %s: %w", key, err)
	}
	return q.enqueue(&queued{Key: key, ContentType: opt.ContentType, Tags: opt.Tags, Size: n}, tmp.Name())
}

// Delete removes the object: from the queue if it is pending, and from the
// remote (queued too, so a delete while MinIO is down is not forgotten).
func (q *Queue) Delete(_ context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return q.enqueue(&queued{Key: key, Delete: true}, "")
}

func (q *Queue) enqueue(op *queued, data string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	op.Seq, op.Enqueued = q.seq, time.Now().UTC()
	if data != "" {
		if err := os.Rename(data, q.dataPath(op.Seq)); err != nil {
			return fmt.Errorf("upload queue: %w", err)
		}
	}
	b, _ := json.Marshal(op)
	if err := writeSynced(q.dir, q.metaPath(op.Seq), b); err != nil {
		os.Remove(q.dataPath(op.Seq))
		return fmt.Errorf("upload queue: %w", err)
	}
	// A newer write of a key supersedes an older one still waiting (the
	// index is rewritten after every contact); one being uploaded finishes.
	if old := q.latest[op.Key]; old != nil && old != q.inflight {
		q.ops = slices.DeleteFunc(q.ops, func(x *queued) bool { return x == old })
		q.removeFiles(old)
	}
	q.ops = append(q.ops, op)
	q.latest[op.Key] = op
	if len(q.ops) == 1 {
		q.drained = make(chan struct{})
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
}

func writeSynced(dir, path string, b []byte) error {
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (q *Queue) keptPath(key string) string {
	return filepath.Join(q.dir, "kept", url.PathEscape(key))
}

func (q *Queue) removeFiles(op *queued) {
	os.Remove(q.metaPath(op.Seq))
	if !op.Delete {
		os.Remove(q.dataPath(op.Seq))
	}
}

// Get reads a pending write from the queue, else the remote.
func (q *Queue) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	q.mu.Lock()
	op := q.latest[key]
	var f *os.File
	var err error
	if op != nil && !op.Delete {
		// Opened under the lock: once open, the upload removing it does not
		// take the bytes away (the file lives until closed).
		f, err = os.Open(q.dataPath(op.Seq))
	}
	q.mu.Unlock()
	switch {
	case op == nil:
		rc, err := q.remote.Get(ctx, key)
		if err != nil && !errors.Is(err, ErrNotFound) && slices.Contains(q.opt.Keep, key) {
			if f, ferr := os.Open(q.keptPath(key)); ferr == nil {
				return f, nil
			}
		}
		return rc, err
	case op.Delete:
		return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("upload queue: %s: %w", key, err)
	}
	return f, nil
}

// List yields the remote's keys with the pending writes added and the
// pending deletes taken out.
func (q *Queue) List(ctx context.Context, prefix string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		q.mu.Lock()
		pending := map[string]bool{} // key → exists after the queue drains
		for k, op := range q.latest {
			if strings.HasPrefix(k, prefix) {
				pending[k] = !op.Delete
			}
		}
		q.mu.Unlock()
		keys := []string{}
		for k, err := range q.remote.List(ctx, prefix) {
			if err != nil {
				yield("", err)
				return
			}
			if _, ok := pending[k]; !ok {
				keys = append(keys, k)
			}
		}
		for k, exists := range pending {
			if exists {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !yield(k, nil) {
				return
			}
		}
	}
}

// Pending reports whether key has a write not yet uploaded.
func (q *Queue) Pending(key string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	op := q.latest[key]
	return op != nil && !op.Delete
}

// Stats returns the backlog now.
func (q *Queue) Stats() QueueStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := QueueStats{Objects: len(q.ops), Failures: q.failures, Uploaded: q.uploaded}
	for _, op := range q.ops {
		s.Bytes += op.Size
	}
	if len(q.ops) > 0 {
		s.Oldest = q.ops[0].Enqueued
	}
	if q.lastErr != nil {
		s.LastErr = q.lastErr.Error()
	}
	return s
}

// Drain waits until everything queued so far is uploaded, or ctx ends.
func (q *Queue) Drain(ctx context.Context) error {
	for {
		q.mu.Lock()
		ch, empty := q.drained, len(q.ops) == 0
		q.mu.Unlock()
		if empty {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("upload queue: %d objects still waiting: %w", q.Stats().Objects, ctx.Err())
		}
	}
}

// Close stops uploading; what is left stays on disk for the next Open.
func (q *Queue) Close() {
	q.cancel()
	<-q.done
}

func (q *Queue) run(ctx context.Context) {
	defer close(q.done)
	ensured := false
	primed := q.prime(ctx)
	backoff := time.Duration(0)
	for {
		q.mu.Lock()
		var op *queued
		if len(q.ops) > 0 {
			op = q.ops[0]
			q.inflight = op
		}
		q.mu.Unlock()
		if op == nil {
			select {
			case <-ctx.Done():
				return
			case <-q.wake:
				continue
			}
		}
		err := ctx.Err()
		if err == nil && !ensured {
			if e, ok := q.remote.(ensurer); ok {
				err = e.EnsureBucket(ctx)
			}
			ensured = err == nil
		}
		if err == nil && !primed {
			primed = q.prime(ctx)
		}
		if err == nil {
			err = q.upload(ctx, op)
		}
		if ctx.Err() != nil {
			q.mu.Lock()
			q.inflight = nil
			q.mu.Unlock()
			return
		}
		q.mu.Lock()
		q.inflight = nil
		if err != nil {
			q.failures++
			if q.failures == 1 || q.failures%20 == 0 {
				q.log.Warn("upload queue: remote store unreachable, retrying", "store", q.remote.String(), "key", op.Key,
					"attempts", q.failures, "waiting", len(q.ops), "error", err)
			}
			q.lastErr = err
			q.mu.Unlock()
			backoff = min(max(2*backoff, q.opt.MinBackoff), q.opt.MaxBackoff)
			// Jitter, so many servers do not retry a recovering MinIO in step.
			wait := backoff/2 + rand.N(backoff/2+1)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			continue
		}
		if q.failures > 0 {
			q.log.Info("upload queue: remote store back", "store", q.remote.String(), "after_attempts", q.failures, "waiting", len(q.ops)-1)
		}
		q.failures, q.lastErr, backoff = 0, nil, 0
		q.uploaded++
		q.ops = slices.DeleteFunc(q.ops, func(x *queued) bool { return x == op })
		if q.latest[op.Key] == op {
			delete(q.latest, op.Key)
		}
		if slices.Contains(q.opt.Keep, op.Key) {
			q.keep(op)
		}
		q.removeFiles(op)
		if len(q.ops) == 0 {
			close(q.drained)
		}
		q.mu.Unlock()
	}
}

// prime fetches the kept keys that have no pending write; false if the
// remote could not be read (tried again later).
func (q *Queue) prime(ctx context.Context) bool {
	for _, key := range q.opt.Keep {
		if q.Pending(key) {
			continue
		}
		rc, err := q.remote.Get(ctx, key)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return false
		}
		dst := q.keptPath(key)
		err = os.MkdirAll(filepath.Dir(dst), 0o750)
		if err == nil {
			var tmp *os.File
			if tmp, err = os.CreateTemp(q.dir, ".tmp-*"); err == nil {
				_, err = io.Copy(tmp, rc)
				tmp.Close()
				q.mu.Lock()
				if op := q.latest[key]; err == nil && op == nil {
					// Not if a write came meanwhile: its upload keeps it.
					err = os.Rename(tmp.Name(), dst)
				}
				q.mu.Unlock()
				os.Remove(tmp.Name())
			}
		}
		rc.Close()
		if err != nil {
			return false
		}
	}
	return true
}

// keep moves an uploaded object's data to the kept copies (or drops the
// kept copy of a deleted key). Caller holds q.mu.
func (q *Queue) keep(op *queued) {
	dst := q.keptPath(op.Key)
	if op.Delete {
		os.Remove(dst)
		return
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err == nil {
		os.Rename(q.dataPath(op.Seq), dst)
	}
}

func (q *Queue) upload(ctx context.Context, op *queued) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if op.Delete {
		err := q.remote.Delete(ctx, op.Key)
		if errors.Is(err, ErrNotFound) {
			err = nil
		}
		return err
	}
	f, err := os.Open(q.dataPath(op.Seq))
	if err != nil {
		return err
	}
	defer f.Close()
	return q.remote.Put(ctx, op.Key, f, op.Size, PutOptions{ContentType: op.ContentType, Tags: op.Tags})
}
