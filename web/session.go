package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/joule-dev/joule"
)

// Cookie and form field names.
const (
	SessionCookie = "joule_session"
	CSRFCookie    = "joule_csrf"
	CSRFField     = "csrf"
)

// keys are the two HMAC keys derived from Config.SessionKey, so that a
// signature made for one purpose is never valid for the other.
type keys struct {
	session, csrf []byte
}

func deriveKeys(master []byte) keys {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, master)
		m.Write([]byte("joule console " + label))
		return m.Sum(nil)
	}
	return keys{session: derive("session v1"), csrf: derive("csrf v1")}
}

func sign(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

var b64 = base64.RawURLEncoding

// newSession returns the cookie value for tokenID: the base64 of
// "tokenID|expiry", a dot, and the base64 of its signature.
func (c *Console) newSession(tokenID string, expires time.Time) string {
	payload := tokenID + "|" + strconv.FormatInt(expires.Unix(), 10)
	return b64.EncodeToString([]byte(payload)) + "." + b64.EncodeToString(sign(c.keys.session, payload))
}

var errBadSession = errors.New("invalid or expired session")

// parseSession checks a session cookie value and returns its token ID.
func (c *Console) parseSession(value string) (string, error) {
	p64, s64, ok := strings.Cut(value, ".")
	if !ok {
		return "", errBadSession
	}
	payload, err1 := b64.DecodeString(p64)
	sig, err2 := b64.DecodeString(s64)
	if err1 != nil || err2 != nil || !hmac.Equal(sig, sign(c.keys.session, string(payload))) {
		return "", errBadSession
	}
	id, exp, ok := strings.Cut(string(payload), "|")
	unix, err := strconv.ParseInt(exp, 10, 64)
	if !ok || err != nil || id == "" || !c.cfg.Now().Before(time.Unix(unix, 0)) {
		return "", errBadSession
	}
	return id, nil
}

// session returns the principal of r's session cookie. It returns an
// EUNAUTHORIZED error when there is no valid session or its token is no
// longer active, and other errors when the check itself failed.
func (c *Console) session(r *http.Request) (joule.Principal, error) {
	ck, err := r.Cookie(SessionCookie)
	if err != nil {
		return joule.Principal{}, joule.Errorf(joule.EUNAUTHORIZED, "not signed in")
	}
	id, err := c.parseSession(ck.Value)
	if err != nil {
		return joule.Principal{}, joule.Errorf(joule.EUNAUTHORIZED, "%v", err)
	}
	p, err := c.cfg.Principal(r.Context(), id)
	if err != nil {
		return joule.Principal{}, err
	}
	if p.TokenID != id {
		return joule.Principal{}, joule.Errorf(joule.EUNAUTHORIZED, "session token does not match")
	}
	return p, nil
}

// authed wraps a page that needs a signed-in user: without a valid session
// it clears the cookie and redirects to the login page, which returns here.
func (c *Console) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := c.session(r)
		if joule.ErrorCode(err) == joule.EUNAUTHORIZED {
			if _, err := r.Cookie(SessionCookie); err == nil {
				http.SetCookie(w, c.cookie(SessionCookie, "", -1))
			}
			target := "/login"
			if r.URL.Path != "/" {
				target += "?" + url.Values{"next": {r.URL.RequestURI()}}.Encode()
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		} else if err != nil {
			c.internal(w, r, err)
			return
		}
		h(w, r.WithContext(joule.NewContextWithPrincipal(r.Context(), p)))
	}
}

// cookie returns an HttpOnly, SameSite=Strict cookie for the whole site.
// maxAge below zero deletes it.
func (c *Console) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   c.cfg.Secure,
		SameSite: http.SameSiteStrictMode,
	}
}

// csrfToken returns the form token for r's CSRF cookie, setting a new
// random cookie first when r has none. The form token is an HMAC of the
// cookie, so a cookie planted by someone else is useless without the key.
func (c *Console) csrfToken(w http.ResponseWriter, r *http.Request) string {
	value := ""
	if ck, err := r.Cookie(CSRFCookie); err == nil && len(ck.Value) == 43 {
		value = ck.Value
	} else {
		value = c.setCSRFCookie(w)
	}
	return b64.EncodeToString(sign(c.keys.csrf, value))
}

// setCSRFCookie sets a fresh random CSRF cookie and returns its value.
func (c *Console) setCSRFCookie(w http.ResponseWriter) string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	value := b64.EncodeToString(b[:])
	http.SetCookie(w, c.cookie(CSRFCookie, value, 0))
	return value
}

// checkCSRF reports whether the form of r carries the token of its CSRF
// cookie. r's form must be parsed.
func (c *Console) checkCSRF(r *http.Request) bool {
	ck, err := r.Cookie(CSRFCookie)
	if err != nil || ck.Value == "" {
		return false
	}
	got, err := b64.DecodeString(r.PostFormValue(CSRFField))
	if err != nil {
		return false
	}
	return hmac.Equal(got, sign(c.keys.csrf, ck.Value))
}

// maxForm bounds the body of the console's forms.
const maxForm = 64 << 10

// parsePost parses a POST form and checks its CSRF token; on failure it has
// rendered the error page and returns false.
func (c *Console) parsePost(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return false
	}
	if !c.checkCSRF(r) {
		c.fail(w, r, http.StatusForbidden, "Form expired",
			"The form's security token is missing or does not match (CSRF protection). Reload the page and try again; cookies must be enabled.")
		return false
	}
	return true
}

// loginView is the data of the login page.
type loginView struct {
	Next  string
	Error string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if p, err := c.session(r); err == nil && p.TokenID != "" {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "login.html", view{Title: "Sign in", Data: loginView{Next: safeNext(r.URL.Query().Get("next"))}})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if !c.parsePost(w, r) {
		return
	}
	next := safeNext(r.PostFormValue("next"))
	p, err := c.cfg.Authenticate(r.Context(), strings.TrimSpace(r.PostFormValue("token")))
	switch {
	case joule.ErrorCode(err) == joule.EUNAUTHORIZED:
		c.render(w, r, http.StatusUnauthorized, "login.html", view{Title: "Sign in", Data: loginView{
			Next:  next,
			Error: "That token was not accepted: it is unknown, expired or revoked.",
		}})
		return
	case err != nil:
		c.internal(w, r, err)
		return
	case p.TokenID == "":
		c.internal(w, r, errors.New("authenticate returned a principal without a token ID"))
		return
	}
	ttl := c.cfg.SessionTTL
	http.SetCookie(w, c.cookie(SessionCookie, c.newSession(p.TokenID, c.cfg.Now().Add(ttl)), int(ttl/time.Second)))
	c.setCSRFCookie(w) // a new CSRF token for the new session
	c.cfg.Logger.InfoContext(r.Context(), "console: signed in", "principal", p.String(), "workspace", p.WorkspaceName)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if !c.parsePost(w, r) {
		return
	}
	http.SetCookie(w, c.cookie(SessionCookie, "", -1))
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext returns next if it is a path on this site, and "/" otherwise,
// so the login form cannot redirect elsewhere.
func safeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Path == "/login" {
		return "/"
	}
	return next
}
