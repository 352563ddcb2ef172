package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/joule-dev/joule"
)

// FuzzDecode feeds arbitrary bodies to the API's JSON decoder: it must
// never panic, and every failure must be an EINVALID or ETOOLARGE error
// with a message.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"name":"a","command":["true"]}`,
		"{\n  \"name\": \"x\",\n  oops\n}",
		`{"name":`, `{"name": 12}`, `{"name":"x"} {}`, ``, `null`, `[]`,
		`{"resources":{"cpu_millis":-1},"timeout":"1s","priority":12}`,
		`{"timeout":1e999}`, "\xff\xfe", `{"deadline":"yesterday"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/v1/x", strings.NewReader(body))
		var spec joule.JobSpec
		err := decode(r, &spec)
		if err == nil {
			_ = spec.WithDefaults().Validate()
			return
		}
		code := joule.ErrorCode(err)
		if (code != joule.EINVALID && code != joule.ETOOLARGE) || joule.ErrorMessage(err) == "" {
			t.Errorf("decode(%q) = %v, want an invalid error with a message", body, err)
		}
	})
}
