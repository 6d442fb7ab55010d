package web_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/security"
	"github.com/chromedp/chromedp"

	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/shared/protocol"
)

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "parley test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
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

// With a certificate, the page is served over HTTPS, speaks WSS, and
// reaches the file server over HTTPS.
func TestTLS(t *testing.T) {
	cert, key := selfSigned(t)
	e := startEnv(t, &env{cert: cert, key: key})
	bob := e.peer("bob")
	ctx := tab(t, 1280, 800)
	// The browser does not know the test's certificate authority.
	if _, err := chromedp.Run(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, security.SetIgnoreCertificateErrors, security.SetIgnoreCertificateErrorsParams{Ignore: true})
		return err
	})); err != nil {
		t.Fatal(err)
	}
	login(t, ctx, e, "ivy")
	if u := eval[string](t, ctx, `location.href`); !strings.HasPrefix(u, "https://") {
		t.Fatalf("page at %s", u)
	}
	say(t, ctx, "over TLS")
	if got := bob.waitMessage(func(f *protocol.Frame) bool { return f.From == "ivy" }); got.Text != "over TLS" {
		t.Fatalf("bob got %+v", got)
	}
	bob.do(&protocol.Frame{Type: protocol.TypeSend, Room: "lobby", Text: "and back", Key: chat.NewKey()})
	waitJS(t, ctx, messageShown("and back"))
	// The WebSocket is wss:, as the page's CSP names it.
	csp := eval[string](t, ctx, `(async () => (await fetch('/')).headers.get('Content-Security-Policy'))()`)
	if !strings.Contains(csp, "wss://"+e.httpLn) || !strings.Contains(csp, "https://"+e.files.Addr()) {
		t.Fatalf("CSP %q", csp)
	}
	run(t, ctx, chromedp.Click(chromedp.ID("toggle-files")))
	waitJS(t, ctx, `document.getElementById('file-list').textContent.includes('Nothing here yet')`)
	if msg := eval[string](t, ctx, `document.getElementById('files-error').textContent`); msg != "" {
		t.Fatalf("files: %s", msg)
	}
}
