package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"testing"

	"github.com/parley-chat/parley/fileserver/api"
)

func TestParseReprDigest(t *testing.T) {
	s := sha256.Sum256([]byte("x"))
	b64 := base64.StdEncoding.EncodeToString(s[:])
	for in, ok := range map[string]bool{
		"sha-256=:" + b64 + ":":                 true,
		"SHA-256=:" + b64 + ":":                 true,
		"sha-512=:AAAA:, sha-256=:" + b64 + ":": true,
		"sha-256=:" + b64 + ":;param=1":         true,
		"sha-512=:AAAA:":                        false,
		"":                                      false,
	} {
		sum, found, err := api.ParseReprDigest(in)
		if err != nil || found != ok || (ok && !bytes.Equal(sum, s[:])) {
			t.Errorf("ParseReprDigest(%q) = %x, %v, %v", in, sum, found, err)
		}
	}
	for _, in := range []string{"sha-256", "sha-256=" + b64, "sha-256=:AAAA:", "sha-256=:!!:", "sha-256=::"} {
		if _, _, err := api.ParseReprDigest(in); err == nil {
			t.Errorf("ParseReprDigest(%q) accepted", in)
		}
	}
	h := http.Header{}
	h.Set(api.SHA256Header, hex.EncodeToString(s[:]))
	if got, err := api.ParseSHA256(h); err != nil || got != hex.EncodeToString(s[:]) {
		t.Errorf("ParseSHA256 = %q, %v", got, err)
	}
}

func FuzzParseReprDigest(f *testing.F) {
	f.Add("sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:")
	f.Add("sha-512=:AAAA:, sha-256=:AAAA:")
	f.Add("sha-256=::;a=b,")
	f.Fuzz(func(t *testing.T, in string) {
		sum, ok, err := api.ParseReprDigest(in)
		if err == nil && ok && len(sum) != 32 {
			t.Fatalf("%q: accepted a %d-byte digest", in, len(sum))
		}
		if err != nil && ok {
			t.Fatalf("%q: found and failed", in)
		}
	})
}
