package protocol

import (
	"crypto/tls"
	"errors"
	"fmt"
)

// MinTLS is the oldest TLS version Parley speaks (PROTOCOL.md,
// Transport), on the chat protocol's port and the file server's alike.
const MinTLS = tls.VersionTLS12

// ServerTLS is the TLS configuration of a server started with a
// certificate and its key, PEM files: the chat server's doors and the
// file server use the same, so that one certificate file given to the
// client trusts both. Neither file given means no TLS (nil); one without
// the other is an error that names the missing flag.
func ServerTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, errors.New("TLS needs both a certificate (-tls-cert) and a key (-tls-key)")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: MinTLS}, nil
}
