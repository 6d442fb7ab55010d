package hub

import "github.com/mtibben/confusables"

// skeleton is the form in which names that look alike are equal: the
// Unicode TR39 skeleton of a name's comparison key. "аlice" with a
// Cyrillic а, "alıce" with a dotless ı and "alice" have one skeleton, so
// once one is registered the others are refused. Keys are case-mapped
// already, so "Alice" needs no skeleton to be alice.
func skeleton(key string) string { return confusables.Skeleton(key) }
