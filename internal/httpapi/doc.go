// Package httpapi is joule's REST API under /v1 and the Go client that the
// CLI uses to reach it.
//
// One route table drives everything a route needs: the ServeMux pattern, the
// role it requires, whether it is scoped to a workspace in its path, the
// audit action it records, and its OpenAPI description. Every request goes
// through the same chain:
//
//	request ID → metrics → recover → log → authenticate → authorise →
//	body limit → handler → audit (state-changing routes)
//
// Errors are always JSON, {"error":{"code":…,"message":…}}, with one table
// mapping joule error codes to HTTP statuses; [Client] turns that body back
// into a *joule.Error. Lists use cursor pagination: {"items":[…],
// "next_cursor":"…"}.
package httpapi
