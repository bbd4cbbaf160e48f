package shard

import (
	"encoding/hex"
	"math/bits"
	"strconv"
)

// Key is a shard key: an int64, a string, bytes or a UUID, with its hash
// computed once. Build it with [Int], [String], [Bytes] or [UUID]. Keys are
// comparable: two Keys are equal when they are of the same kind and value.
// An Int Key is three words and never allocates.
type Key struct {
	h    uint64
	n    int64
	s    string
	kind keyKind
}

type keyKind uint8

const (
	kindInt keyKind = iota + 1
	kindString
	kindBytes
	kindUUID
)

// The hash is part of the on-disk contract: every row already stored sits on
// the shard its key's bucket maps to, so a change here would silently strand
// data. TestKeyVectors pins its output for every key kind. It is:
//
//	int64:              mix64(uint64(n))
//	string, bytes, UUID: mix64(fnv1a64(the bytes))   (a UUID's 16 bytes in order)
//
// where fnv1a64 is 64-bit FNV-1a (offset 14695981039346656037, prime
// 1099511628211) and mix64 is the SplitMix64 finalizer (xor-shift 30,
// multiply 0xbf58476d1ce4e5b9, xor-shift 27, multiply 0x94d049bb133111eb,
// xor-shift 31), which spreads sequential ids and FNV's weak low bits over
// the whole word. Both are a few lines any language can reproduce: a job in
// another language can compute the same bucket.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func fnv1a(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// bucketOf reduces a hash to [0, n) by multiply-shift (the high word of
// h x n): uniform for a uniform h, no division, and stable for a given n.
func bucketOf(h uint64, n int) int {
	hi, _ := bits.Mul64(h, uint64(n))
	return int(hi)
}

// Int is an integer key (an id). It never allocates.
func Int(n int64) Key { return Key{h: mix64(uint64(n)), n: n, kind: kindInt} }

// String is a text key (an email, a tenant slug).
func String(s string) Key { return Key{h: mix64(fnv1a(s)), s: s, kind: kindString} }

// Bytes is a binary key. It hashes like String of the same bytes; the Key
// keeps a copy, so b may be reused.
func Bytes(b []byte) Key {
	s := string(b)
	return Key{h: mix64(fnv1a(s)), s: s, kind: kindBytes}
}

// UUID is a UUID key, given as its 16 bytes (google/uuid.UUID and
// pgtype.UUID.Bytes are [16]byte). It hashes like Bytes(u[:]).
func UUID(u [16]byte) Key {
	s := string(u[:])
	return Key{h: mix64(fnv1a(s)), s: s, kind: kindUUID}
}

// Hash is the key's 64-bit stable hash (see the package doc).
func (k Key) Hash() uint64 { return k.h }

// IsZero reports whether k was never built (the zero Key).
func (k Key) IsZero() bool { return k.kind == 0 }

// String formats the key for logs and reports: the integer, the text
// quoted, bytes in hex, a UUID in its canonical form.
func (k Key) String() string {
	switch k.kind {
	case kindInt:
		return strconv.FormatInt(k.n, 10)
	case kindString:
		return strconv.Quote(k.s)
	case kindBytes:
		return "0x" + hex.EncodeToString([]byte(k.s))
	case kindUUID:
		b := []byte(k.s)
		return hex.EncodeToString(b[0:4]) + "-" + hex.EncodeToString(b[4:6]) + "-" +
			hex.EncodeToString(b[6:8]) + "-" + hex.EncodeToString(b[8:10]) + "-" + hex.EncodeToString(b[10:16])
	}
	return "<zero key>"
}
