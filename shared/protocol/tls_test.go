package protocol_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/shared/protocol"
)

// writeCert writes a self-signed certificate and its key as PEM files.
func writeCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "parley"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

func TestServerTLS(t *testing.T) {
	if c, err := protocol.ServerTLS("", ""); c != nil || err != nil {
		t.Errorf("no files: %v, %v; want no TLS and no error", c, err)
	}
	cert, key := writeCert(t)
	for _, tc := range []struct{ cert, key, want string }{
		{cert, "", "-tls-key"},
		{"", key, "-tls-cert"},
		{key, cert, "load TLS certificate"},
		{cert, filepath.Join(t.TempDir(), "missing.pem"), "load TLS certificate"},
	} {
		if _, err := protocol.ServerTLS(tc.cert, tc.key); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ServerTLS(%q, %q) = %v; want an error about %s", tc.cert, tc.key, err, tc.want)
		}
	}
	c, err := protocol.ServerTLS(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Certificates) != 1 || c.MinVersion != tls.VersionTLS12 {
		t.Errorf("config: %d certificates, min version %x; want one, TLS 1.2", len(c.Certificates), c.MinVersion)
	}
}
