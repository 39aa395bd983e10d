package ingest

import (
	"crypto/sha1"
	"encoding/hex"
)

// splitmix64 is a bijective 64-bit mixer (Steele, Lea, Flood 2014). It turns a
// seed and a counter into well-spread id bits without consuming the
// simulator's random stream, so adding a field to an event never shifts the
// ids of later events.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// formatUUID writes 16 bytes in the 8-4-4-4-12 hex layout, setting the given
// version nibble and the RFC 9562 variant bits.
func formatUUID(b [16]byte, version byte) string {
	b[6] = b[6]&0x0f | version<<4
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}

// counterUUID is a version 8 (custom) UUID made of the seed's mix and a
// counter: unique per (seed, n), reproducible, and not a random UUID.
func counterUUID(seedMix, n uint64) string {
	hi := splitmix64(seedMix ^ splitmix64(n))
	lo := splitmix64(hi ^ n)
	var b [16]byte
	for i := range 8 {
		b[i] = byte(hi >> (56 - 8*i))
		b[8+i] = byte(lo >> (56 - 8*i))
	}
	return formatUUID(b, 8)
}

// onlineRetailNamespace is the namespace of the name-based event ids of the
// Online Retail replay (itself the version 5 UUID of the URL namespace and
// "https://archive.ics.uci.edu/dataset/352/online+retail",
// a6621eaf-b20e-51de-a8ee-d4d62a407d7a).
var onlineRetailNamespace = [16]byte{
	0xa6, 0x62, 0x1e, 0xaf, 0xb2, 0x0e, 0x51, 0xde,
	0xa8, 0xee, 0xd4, 0xd6, 0x2a, 0x40, 0x7d, 0x7a,
}

// nameUUID is an RFC 9562 version 5 (SHA-1, name-based) UUID.
func nameUUID(namespace [16]byte, name string) string {
	h := sha1.New()
	h.Write(namespace[:])
	h.Write([]byte(name))
	var b [16]byte
	copy(b[:], h.Sum(nil))
	return formatUUID(b, 5)
}
