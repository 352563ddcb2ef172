package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/joule-dev/joule"
)

// buildOpenAPI writes the OpenAPI 3.0 document for the route table. Schemas
// come from the Go types of each route's Request and Response by reflection,
// so the document cannot drift from the code that encodes the bodies.
func buildOpenAPI(routes []Route) ([]byte, error) {
	g := &schemaGen{components: map[string]any{}}
	g.components["Error"] = map[string]any{
		"type": "object",
		"properties": map[string]any{
			"error": map[string]any{
				"type":     "object",
				"required": []string{"code", "message"},
				"properties": map[string]any{
					"code":       map[string]any{"type": "string", "enum": errorCodes()},
					"message":    map[string]any{"type": "string"},
					"request_id": map[string]any{"type": "string"},
				},
			},
		},
	}
	paths := map[string]map[string]any{}
	for _, rt := range routes {
		op := map[string]any{
			"summary":     rt.Summary,
			"operationId": operationID(rt),
		}
		var params []any
		for _, name := range pathParams(rt.Path) {
			params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.Query {
			params = append(params, map[string]any{"name": q.Name, "in": "query", "description": q.Description, "schema": map[string]any{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.Role == "" {
			op["security"] = []any{}
		} else {
			desc := "Requires role " + string(rt.Role)
			if rt.Workspace {
				desc += " in the workspace named in the path"
			}
			if rt.PlatformAdmin {
				desc += " in the default workspace"
			}
			if rt.Audit != "" {
				desc += "; recorded in the audit log as " + rt.Audit
			}
			op["description"] = desc + "."
		}
		if rt.Request != nil {
			op["requestBody"] = map[string]any{
				"required": true,
				"content":  map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.Request))}},
			}
		}
		status := rt.Status
		if status == 0 {
			status = http.StatusOK
		}
		okResp := map[string]any{"description": http.StatusText(status)}
		switch {
		case rt.Raw && rt.Path == "/metrics":
			okResp["content"] = map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}
		case rt.Raw:
			okResp["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}
		case rt.Response != nil:
			okResp["content"] = map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.Response))}}
		}
		op["responses"] = map[string]any{
			strconv.Itoa(status): okResp,
			"default": map[string]any{
				"description": "An error.",
				"content":     map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}},
			},
		}
		if paths[rt.Path] == nil {
			paths[rt.Path] = map[string]any{}
		}
		paths[rt.Path][strings.ToLower(rt.Method)] = op
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "joule API",
			"version":     joule.Version,
			"description": "The joule control plane. Send Authorization: Bearer <token>. Errors are {\"error\":{\"code\",\"message\"}}; lists are {\"items\",\"next_cursor\"}.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": g.components,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer"},
			},
		},
		"security": []any{map[string]any{"bearer": []any{}}},
	}
	return json.MarshalIndent(doc, "", "  ")
}

func errorCodes() []string {
	var codes []string
	for c := range codeStatus {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	return codes
}

var paramRE = regexp.MustCompile(`\{([a-z_]+)\}`)

func pathParams(p string) []string {
	var out []string
	for _, m := range paramRE.FindAllStringSubmatch(p, -1) {
		out = append(out, m[1])
	}
	return out
}

func operationID(rt Route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.Method))
	for _, part := range strings.Split(strings.Trim(rt.Path, "/"), "/") {
		part = strings.Trim(part, "{}")
		part = strings.NewReplacer(".", "_", "-", "_").Replace(part)
		if part == "" || part == "v1" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

type schemaGen struct {
	components map[string]any
}

var timeType = reflect.TypeOf(time.Time{})

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.Pointer:
		s := g.schema(t.Elem())
		if _, ref := s["$ref"]; ref {
			return map[string]any{"allOf": []any{s}, "nullable": true}
		}
		s["nullable"] = true
		return s
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		name := schemaName(t)
		if _, ok := g.components[name]; !ok {
			g.components[name] = map[string]any{} // break cycles
			props := map[string]any{}
			for i := range t.NumField() {
				f := t.Field(i)
				if !f.IsExported() {
					continue
				}
				tag := f.Tag.Get("json")
				if tag == "-" {
					continue
				}
				jname, _, _ := strings.Cut(tag, ",")
				if jname == "" {
					jname = f.Name
				}
				props[jname] = g.schema(f.Type)
			}
			g.components[name] = map[string]any{"type": "object", "properties": props}
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

// schemaName names a struct type, including generic arguments:
// Page[joule.Node] becomes PageNode.
func schemaName(t reflect.Type) string {
	n := t.Name()
	if i := strings.IndexByte(n, '['); i >= 0 {
		arg := n[i+1 : len(n)-1]
		if j := strings.LastIndexByte(arg, '.'); j >= 0 {
			arg = arg[j+1:]
		}
		n = n[:i] + arg
	}
	if n == "" {
		return fmt.Sprintf("Anon%p", t)
	}
	return n
}
