package dataset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path"
	"syscall"
	"time"

	"github.com/joule-dev/joule"
)

// errPrivate is returned by the dialer for addresses a URL import may not
// reach.
var errPrivate = errors.New("address is loopback, link-local, private or unspecified")

// publicOnly refuses connections to loopback, link-local, private (RFC 1918,
// RFC 4193), CGNAT, unspecified and multicast addresses. It runs on the
// address actually dialled, after DNS, so a name that resolves to such an
// address is refused too.
func publicOnly(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%s: %w", address, errPrivate)
	}
	a := ap.Addr().Unmap()
	cgnat := netip.MustParsePrefix("100.64.0.0/10")
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsUnspecified() ||
		a.IsMulticast() || a.IsInterfaceLocalMulticast() || cgnat.Contains(a) {
		return fmt.Errorf("%s: %w", a, errPrivate)
	}
	return nil
}

// Fetch downloads an http(s) URL to a new file in dir and returns its path
// and the file name the URL gives. Unless allowPrivate, addresses that are
// loopback, link-local or private are refused (EINVALID).
func Fetch(ctx context.Context, rawURL, dir string, allowPrivate bool) (string, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", joule.Errorf(joule.EINVALID, "from: %q is not an http(s) URL", rawURL)
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = publicOnly
	}
	tr := &http.Transport{DialContext: dialer.DialContext, Proxy: nil, TLSHandshakeTimeout: 30 * time.Second, ResponseHeaderTimeout: 60 * time.Second}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("more than 5 redirects")
		}
		return nil
	}}
	req, err := http.NewRequestWithContext(ctx, "GET", u.String(), nil)
	if err != nil {
		return "", "", joule.Errorf(joule.EINVALID, "from: %v", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(err, errPrivate) {
			return "", "", joule.Errorf(joule.EINVALID, "from: %s resolves to an address that is loopback, link-local or private; an admin can allow such URLs with joule up --allow-private-urls", u.Host)
		}
		return "", "", joule.Errorf(joule.EINVALID, "from: cannot fetch %s: %v", u.Redacted(), errors.Unwrap(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", "", joule.Errorf(joule.EINVALID, "from: %s answered %s", u.Redacted(), resp.Status)
	}
	name := path.Base(u.Path)
	if name == "/" || name == "." {
		name = ""
	}
	f, err := os.CreateTemp(dir, "fetch-*"+path.Ext(name))
	if err != nil {
		return "", "", fmt.Errorf("fetch: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", "", joule.Errorf(joule.EINVALID, "from: %s: the download broke off: %v", u.Redacted(), err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", "", fmt.Errorf("fetch: %w", err)
	}
	return f.Name(), name, nil
}
