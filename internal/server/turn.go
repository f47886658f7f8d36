package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"strconv"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/sfu"
)

// turnOptions turns the TURN flags into the SFU's options: ports on
// --turn-ip (else the media address), the TURN certificate (else the
// server's) for TLS, and the host clients are told: --turn-host; else
// --turn-ip; else --public-url's host; else the certificate's first
// name; else the media address (the SFU's choice).
func turnOptions(cfg config.Config) (sfu.TURNOptions, error) {
	m := cfg.Media
	o := sfu.TURNOptions{Host: m.TURNHost, Secret: m.TURNSecret, TTL: m.TURNTTL}
	ip := m.TURNIP
	if ip == "" {
		ip = m.ListenIP
	} else if o.Host == "" {
		o.Host = ip
	}
	if m.TURNUDPPort > 0 {
		o.UDPAddr = net.JoinHostPort(ip, strconv.Itoa(m.TURNUDPPort))
	}
	if m.TURNTLSPort > 0 {
		certFile, keyFile := m.TURNCert, m.TURNKey
		if certFile == "" {
			certFile, keyFile = cfg.TLSCert, cfg.TLSKey
		}
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return o, fmt.Errorf("turn tls: %w", err)
		}
		o.TLSAddr = net.JoinHostPort(ip, strconv.Itoa(m.TURNTLSPort))
		o.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if o.Host == "" && cfg.PublicURL == "" {
			if leaf, err := x509.ParseCertificate(cert.Certificate[0]); err == nil && len(leaf.DNSNames) > 0 {
				o.Host = leaf.DNSNames[0]
			}
		}
	}
	if o.Host == "" && cfg.PublicURL != "" {
		if u, err := url.Parse(cfg.PublicURL); err == nil {
			o.Host = u.Hostname()
		}
	}
	return o, nil
}
