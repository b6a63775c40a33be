package attest_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/deploy/attest"
)

func TestAttestationsMatchTheSchema(t *testing.T) {
	s, err := loadSchema()
	if err != nil {
		t.Fatal(err)
	}
	variants := map[string]func(*attest.Predicate){
		"approved deploy": func(*attest.Predicate) {},
		"emergency": func(p *attest.Predicate) {
			p.Approvals, p.Ticket = nil, ""
			p.Emergency = attest.Emergency{Declared: true, ReviewState: attest.ReviewPending, ReviewDueAt: p.FinishedAt.Add(24 * time.Hour)}
		},
		"rolled back, no policy checks": func(p *attest.Predicate) {
			p.Result, p.Ref, p.Reason, p.Policy.Checks = attest.ResultRolledBack, "", "", nil
		},
		"failed before the switch": func(p *attest.Predicate) { p.Result, p.SwitchedAt = attest.ResultFailed, time.Time{} },
	}
	for name, change := range variants {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			change(&f.statement.Predicate)
			if err := s.validate(payloadOf(t, f.sign(t))); err != nil {
				t.Fatalf("the attestation does not match %s: %v", schemaFile, err)
			}
		})
	}
}

// TestSchemaAndVerifyRefuseTheSameMistakes signs payloads the schema
// refuses and checks that Verify refuses them too, so the schema in docs/
// and the verifier describe one format.
func TestSchemaAndVerifyRefuseTheSameMistakes(t *testing.T) {
	s, err := loadSchema()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, from, to, schemaSays string }{
		{"missing field", `"environment":"production",`, ``, "$.predicate: environment is required"},
		{"unknown field", `"environment":"production",`, `"environment":"production","approved":true,`, `$.predicate: property "approved" is not allowed`},
		{"short commit", `"commit":"` + commitSHA + `","emergency"`, `"commit":"8f3c2a1","emergency"`, `$.predicate.commit: "8f3c2a1" does not match`},
		{"host key", `"host_key_sha256":"SHA256:47DEQ`, `"host_key_sha256":"MD5:47DEQ`, `$.predicate.servers[1].host_key_sha256: "MD5:`},
		{"port as a string", `"port":2222`, `"port":"2222"`, `$.predicate.servers[1].port: 2222 is not of type integer`},
		{"port out of range", `"port":2222`, `"port":70000`, `$.predicate.servers[1].port: 70000 is out of range`},
		{"no servers", `"servers":[{"host":"web1.internal","host_key_sha256":"SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s","port":22},` +
			`{"host":"web2.internal","host_key_sha256":"SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU","port":2222}]`,
			`"servers":[]`, "$.predicate.servers: 0 items (minItems 1)"},
		{"result", `"result":"succeeded"`, `"result":"ok"`, `$.predicate.result: ok is not one of`},
		{"time", `"finished_at":"2026-03-02T14:09:00Z"`, `"finished_at":"yesterday"`, `$.predicate.finished_at: "yesterday" is not a date-time`},
		{"check outcome", `"outcome":"skipped"`, `"outcome":"maybe"`, `$.predicate.policy.checks[2].outcome: maybe is not one of`},
		{"requester id", `"github_id":1001`, `"github_id":0`, `$.predicate.requester.github_id: 0 is out of range`},
		{"third subject", `"subject":[`, `"subject":[{"name":"x","digest":{"sha256":"` + strings.Repeat("0", 64) + `"}},`, "$.subject: 3 items (maxItems 2)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			payload := payloadOf(t, f.sign(t))
			if !bytes.Contains(payload, []byte(tc.from)) {
				t.Fatalf("the payload has no %s", tc.from)
			}
			bad := bytes.Replace(payload, []byte(tc.from), []byte(tc.to), 1)
			if err := s.validate(bad); err == nil || !strings.Contains(err.Error(), tc.schemaSays) {
				t.Fatalf("schema: %v, want %q", err, tc.schemaSays)
			}
			_, err := attest.Verify(context.Background(), signRaw(t, f.attKey, attest.PayloadType, bad), f.keys(), attest.Expectations{})
			var ce *attest.CheckError
			if !errors.As(err, &ce) || ce.Check != attest.CheckStatement {
				t.Fatalf("Verify of a payload the schema refuses: %v, want the statement check to fail", err)
			}
		})
	}
}
