package shard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// MaxBuckets bounds Map.Buckets: the owner table is one int32 per bucket,
// and more logical buckets than this buy nothing (Instagram uses 8192).
const MaxBuckets = 1 << 20

// Map assigns every logical bucket to one physical shard. It is data: read it
// from a JSON file ([ReadMapFile]) or a table ([LoadMap]), check it with
// [Map.Validate], and give it to a [Router]. Buckets is fixed for the life of
// a deployment (rows are stored by it); Version grows by one with each change
// so that every process can tell which map is newer.
//
//	{"version": 1, "buckets": 1024, "shards": ["s0", "s1"],
//	 "ranges": [{"first": 0, "last": 511, "shard": "s0"},
//	            {"first": 512, "last": 1023, "shard": "s1"}]}
type Map struct {
	Version int64    `json:"version"`
	Buckets int      `json:"buckets"`
	Shards  []string `json:"shards"` // every shard of the fleet, including one that owns no bucket yet
	Ranges  []Range  `json:"ranges"`
}

// Range gives the buckets First..Last (inclusive) to Shard.
type Range struct {
	First int    `json:"first"`
	Last  int    `json:"last"`
	Shard string `json:"shard"`
}

// EvenMap spreads buckets over shards in contiguous, nearly equal ranges.
func EvenMap(version int64, buckets int, shards ...string) *Map {
	m := &Map{Version: version, Buckets: buckets, Shards: slices.Clone(shards)}
	for i, s := range shards {
		first, last := buckets*i/len(shards), buckets*(i+1)/len(shards)-1
		if last >= first {
			m.Ranges = append(m.Ranges, Range{First: first, Last: last, Shard: s})
		}
	}
	return m
}

// Validate checks that the map can route: Version >= 1, Buckets in
// [1, MaxBuckets], shard names unique and non-empty, every range inside
// [0, Buckets) naming a listed shard, and every bucket owned exactly once.
// The error names the first problem and how to fix it.
func (m *Map) Validate() error {
	_, err := m.owners()
	return err
}

// owners returns, for each bucket, the index in m.Shards of its owner.
func (m *Map) owners() ([]int32, error) {
	if m == nil {
		return nil, errors.New("shard: nil Map")
	}
	if m.Version < 1 {
		return nil, fmt.Errorf("shard: map version %d: versions start at 1 and grow with each change", m.Version)
	}
	if m.Buckets < 1 || m.Buckets > MaxBuckets {
		return nil, fmt.Errorf("shard: map buckets %d: want 1..%d (e.g. 1024), fixed for the life of the deployment", m.Buckets, MaxBuckets)
	}
	if len(m.Shards) == 0 {
		return nil, errors.New("shard: map lists no shards: add their names to \"shards\"")
	}
	index := make(map[string]int32, len(m.Shards))
	for i, s := range m.Shards {
		if strings.TrimSpace(s) == "" {
			return nil, fmt.Errorf("shard: map shard #%d has an empty name", i)
		}
		if _, dup := index[s]; dup {
			return nil, fmt.Errorf("shard: map lists shard %q twice", s)
		}
		index[s] = int32(i)
	}
	owner := make([]int32, m.Buckets)
	for i := range owner {
		owner[i] = -1
	}
	for _, r := range m.Ranges {
		si, ok := index[r.Shard]
		if !ok {
			return nil, fmt.Errorf("shard: map range %d..%d names shard %q, which is not in \"shards\" %q", r.First, r.Last, r.Shard, m.Shards)
		}
		if r.First < 0 || r.Last >= m.Buckets || r.First > r.Last {
			return nil, fmt.Errorf("shard: map range %d..%d of %q: want 0 <= first <= last <= %d", r.First, r.Last, r.Shard, m.Buckets-1)
		}
		for b := r.First; b <= r.Last; b++ {
			if owner[b] >= 0 {
				return nil, fmt.Errorf("shard: map bucket %d is owned by both %q and %q: ranges must not overlap", b, m.Shards[owner[b]], r.Shard)
			}
			owner[b] = si
		}
	}
	for b, o := range owner {
		if o < 0 {
			return nil, fmt.Errorf("shard: map bucket %d has no shard: every bucket 0..%d needs exactly one range", b, m.Buckets-1)
		}
	}
	return owner, nil
}

// Owner returns the shard that owns bucket b in m ("" when m is invalid or b
// out of range).
func (m *Map) Owner(b int) string {
	for _, r := range m.Ranges {
		if b >= r.First && b <= r.Last {
			return r.Shard
		}
	}
	return ""
}

// BucketMove is one bucket that changes shard between two maps.
type BucketMove struct {
	Bucket   int
	From, To string
}

// Moves lists the buckets whose owner differs between old and new (and only
// those), in bucket order. Both maps must be valid with the same Buckets.
func Moves(old, new *Map) ([]BucketMove, error) {
	oo, err := old.owners()
	if err != nil {
		return nil, fmt.Errorf("shard: old map: %s", strings.TrimPrefix(err.Error(), "shard: "))
	}
	no, err := new.owners()
	if err != nil {
		return nil, fmt.Errorf("shard: new map: %s", strings.TrimPrefix(err.Error(), "shard: "))
	}
	if old.Buckets != new.Buckets {
		return nil, fmt.Errorf("shard: maps have %d and %d buckets: the bucket count is fixed for a deployment; move buckets instead", old.Buckets, new.Buckets)
	}
	var moves []BucketMove
	for b := range oo {
		if from, to := old.Shards[oo[b]], new.Shards[no[b]]; from != to {
			moves = append(moves, BucketMove{Bucket: b, From: from, To: to})
		}
	}
	return moves, nil
}

// WithBucket returns a copy of m, one version newer, in which bucket b
// belongs to shard to (which must be listed). Ranges are rebuilt, merged.
func (m *Map) WithBucket(b int, to string) (*Map, error) {
	owner, err := m.owners()
	if err != nil {
		return nil, err
	}
	ti := slices.Index(m.Shards, to)
	if ti < 0 {
		return nil, fmt.Errorf("shard: shard %q is not in the map's shards %q: add it first", to, m.Shards)
	}
	if b < 0 || b >= m.Buckets {
		return nil, fmt.Errorf("shard: bucket %d out of range 0..%d", b, m.Buckets-1)
	}
	owner[b] = int32(ti)
	n := &Map{Version: m.Version + 1, Buckets: m.Buckets, Shards: slices.Clone(m.Shards)}
	for i, o := range owner {
		if k := len(n.Ranges) - 1; k >= 0 && n.Ranges[k].Shard == m.Shards[o] && n.Ranges[k].Last == i-1 {
			n.Ranges[k].Last = i
			continue
		}
		n.Ranges = append(n.Ranges, Range{First: i, Last: i, Shard: m.Shards[o]})
	}
	return n, nil
}

// ParseMap decodes a JSON map (unknown fields are an error, so a typo cannot
// pass silently) and validates it.
func ParseMap(data []byte) (*Map, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Map
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("shard: map: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// ReadMapFile reads and validates a JSON map file.
func ReadMapFile(path string) (*Map, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("shard: %w", err)
	}
	m, err := ParseMap(data)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return m, nil
}
