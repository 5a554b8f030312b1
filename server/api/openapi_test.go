package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestOpenAPIListsEveryRoute checks that the document is valid OpenAPI 3 and lists every
// route of the table, with its path parameters declared, and nothing else.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	a := New(Deps{})
	raw, err := json.Marshal(a.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("invalid OpenAPI document: %v", err)
	}
	served := map[string]bool{}
	for _, rt := range a.Routes() {
		if rt.Hidden {
			continue
		}
		served[rt.Method+" "+DocPattern(rt.Pattern)] = true
		item := doc.Paths.Find(DocPattern(rt.Pattern))
		if item == nil || item.GetOperation(rt.Method) == nil {
			t.Errorf("%s %s is served but not documented", rt.Method, rt.Pattern)
			continue
		}
		op := item.GetOperation(rt.Method)
		if op.OperationID != rt.Op || op.Summary == "" {
			t.Errorf("%s %s: operationId %q summary %q", rt.Method, rt.Pattern, op.OperationID, op.Summary)
		}
		for _, seg := range strings.Split(rt.Pattern, "/") {
			if strings.HasPrefix(seg, "{") {
				name := strings.TrimSuffix(strings.Trim(seg, "{}"), "...")
				if op.Parameters.GetByInAndName("path", name) == nil {
					t.Errorf("%s %s: path parameter %s not declared", rt.Method, rt.Pattern, name)
				}
			}
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !served[method+" "+path] {
				t.Errorf("%s %s is documented but not served", method, path)
			}
		}
	}
	if len(served) < 30 {
		t.Fatalf("only %d routes", len(served))
	}
}
