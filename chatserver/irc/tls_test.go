package irc_test

import (
	"bufio"
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
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/server"
)

// With a certificate, -irc-tls speaks IRC over TLS, and -irc stays plain.
func TestTLS(t *testing.T) {
	cert, key := writeCert(t)
	s := start(t, func(c *server.Config) { c.TLSCert, c.TLSKey, c.IRCTLS = cert, key, "127.0.0.1:0" })
	if s.IRCTLSAddr() == "" || s.IRCTLSAddr() == s.IRCAddr() {
		t.Fatalf("IRC addresses: plain %q, TLS %q", s.IRCAddr(), s.IRCTLSAddr())
	}
	tc, err := tls.Dial("tcp", s.IRCTLSAddr(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.Close() })
	c := &client{t: t, name: "tess", c: tc, r: bufio.NewReader(tc)}
	c.register("pw")
	c.send("QUIT")
	c.expect("ERROR")

	plain := dial(t, s, "tom")
	plain.register("pw")
}

func writeCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "parley"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
