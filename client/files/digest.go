package files

import (
	"encoding/base64"
	"errors"
	"strings"
)

// parseReprDigest finds the sha-256 member of a Repr-Digest header
// (RFC 9530). ok is false if there is none.
func parseReprDigest(v string) (sum []byte, ok bool, err error) {
	for member := range strings.SplitSeq(v, ",") {
		alg, val, found := strings.Cut(strings.TrimSpace(member), "=")
		if !found || strings.ToLower(strings.TrimSpace(alg)) != "sha-256" {
			continue
		}
		if i := strings.IndexByte(val, ';'); i >= 0 {
			val = val[:i]
		}
		val = strings.TrimSpace(val)
		if len(val) < 2 || val[0] != ':' || val[len(val)-1] != ':' {
			return nil, false, errors.New("sha-256 value is not :BASE64:")
		}
		b, err := base64.StdEncoding.DecodeString(val[1 : len(val)-1])
		if err != nil || len(b) != 32 {
			return nil, false, errors.New("sha-256 value is not 32 bytes of base64")
		}
		return b, true, nil
	}
	return nil, false, nil
}
