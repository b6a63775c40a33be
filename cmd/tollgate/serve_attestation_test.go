package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
)

// attestationPath is where a release's attestation lives on a server.
func attestationPath(root, release string) string {
	return filepath.Join(root, "releases", release, attest.FileName)
}

// verifyAttestation runs `tollgate attest verify` on path with the e2e's
// attestation and audit public keys.
func (e *e2e) verifyAttestation(t *testing.T, path string, extra ...string) (int, string) {
	t.Helper()
	args := append([]string{"attest", "verify", path, "--public-key", filepath.Join(e.dir, "attest.pub"),
		"--audit-key", filepath.Join(e.dir, "audit.pub")}, extra...)
	code, out, errOut := runCLI(t, args...)
	return code, out + errOut
}

// TestServeMergeWritesAVerifiableAttestationOnEveryServer: a merge deploys
// staging's two servers through the real server; each server then holds
// the release's attestation, read-only, the same bytes as the database and
// the digest in the release.attested audit entry; `tollgate attest verify`
// passes on the file fetched back (and on the release directory), with
// only public keys. Then an attacker's edits fail, each naming its check:
// a flipped byte in the predicate, a signature by another key, an entry
// proven with another entry's proof.
func TestServeMergeWritesAVerifiableAttestationOnEveryServer(t *testing.T) {
	e := newE2E(t, e2eOptions{secondServer: true, webLogin: true})
	e.start(t)
	if code := e.sendMerge(t, "5f1c0c2e-0000-4000-8000-0000000000a7"); code != 202 {
		t.Fatalf("merge webhook answered %d", code)
	}
	e.deployment(t, "success", "failure", "error")
	st := e.openDB(t)
	r := onlyRequest(t, st)
	if r.State != bot.StateSucceeded {
		t.Fatalf("request %s: %s\n%s", r.ID, r.State, e.stderr.String())
	}
	release := r.Result.Release
	var a store.Attestation
	waitFor(t, "the attestation to be written", func() bool {
		var err error
		a, err = st.Attestation(context.Background(), r.ID)
		return err == nil && !a.WrittenAt.IsZero()
	})
	for _, root := range []string{e.root, e.root2} {
		p := attestationPath(root, release)
		b, err := os.ReadFile(p)
		if err != nil || string(b) != string(a.Envelope) {
			t.Fatalf("%s: %v; want the stored envelope", p, err)
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o444 {
			t.Errorf("%s: mode %v, %v; want 0444", p, fi.Mode(), err)
		}
	}
	ev := auditData(t, st, "release.attested")
	if len(ev) != 1 || ev[0]["digest"] != a.Digest || ev[0]["release"] != release || ev[0]["environment"] != "staging" {
		t.Fatalf("release.attested entries %v, want one with digest %s", ev, a.Digest)
	}
	if got := auditActions(t, st, r.ID); got[len(got)-1] != "release.attested" {
		t.Errorf("audit actions of the request end with %q", got[len(got)-1])
	}

	// Fetched back from the second server, it verifies offline.
	fetched := filepath.Join(t.TempDir(), "attestation.dsse.json")
	writeTestFile(t, fetched, string(a.Envelope))
	code, out := e.verifyAttestation(t, fetched, "--repository", e2eRepo, "--environment", "staging", "--commit", sha('c'))
	if code != exitOK || !strings.Contains(out, "OK: ") || !strings.Contains(out, "release "+release+" of "+e2eRepo+"@ccccccc to staging, succeeded") ||
		!strings.Contains(out, a.Digest) || !strings.Contains(out, "requested:  by alice") {
		t.Fatalf("attest verify: exit %d\n%s", code, out)
	}
	v, err := attest.Verify(context.Background(), a.Envelope, e.attestKeys(t), attest.Expectations{})
	if err != nil {
		t.Fatal(err)
	}
	p := v.Statement.Predicate
	if len(p.Servers) != 2 || p.Servers[0].Port != e.sshdPort || p.Servers[1].Port != e.sshd2Port || !strings.HasPrefix(p.Servers[0].HostKeySHA256, "SHA256:") ||
		p.Servers[0].HostKeySHA256 == p.Servers[1].HostKeySHA256 {
		t.Errorf("servers %+v: want both, each with its own host key", p.Servers)
	}
	if p.RequestID != r.ID || p.Trigger != "merge" || p.Requester.Login != "alice" || p.Requester.GitHubID == 0 || p.Policy.Hash != r.ConfigHash ||
		len(p.Policy.Checks) == 0 || p.SwitchedAt.IsZero() || v.Statement.ManifestDigest != r.Result.ManifestDigest {
		t.Errorf("predicate %+v", p)
	}
	actions := map[string]bool{}
	for _, en := range p.Audit.Entries {
		actions[en.Action] = true
	}
	for _, want := range []string{"request.created", "policy.decided", "deploy.started", "deploy.finished"} {
		if !actions[want] {
			t.Errorf("the attestation proves no %s entry: %v", want, actions)
		}
	}
	if code, out := e.verifyAttestation(t, filepath.Join(e.root, "releases", release)); code != exitOK {
		t.Errorf("attest verify on the release directory: exit %d\n%s", code, out)
	}

	// The deployment page shows it verified, and offers the same bytes as a
	// download behind the same login.
	code, page, _ := e.browse(t, "alice", "/deployments/"+r.ID)
	for _, want := range []string{`<h2>Attestation</h2>`, `<span class="state ok">verified</span> signed by <code>tollgate-e2e-attestation+`, a.Digest,
		`href="/deployments/` + r.ID + `/attestation.dsse.json"`, p.Servers[1].HostKeySHA256} {
		if want = strings.ReplaceAll(want, "+", "&#43;"); code != 200 || !strings.Contains(page, want) { // html/template escapes +
			t.Errorf("deployment page (%d) lacks %q\n%s", code, want, page[strings.Index(page, "<h2>Attestation"):])
		}
	}
	code, hdr, file := e.browseHeaders(t, "alice", "/deployments/"+r.ID+"/attestation.dsse.json")
	if code != 200 || file != string(a.Envelope) || hdr.Get("Content-Disposition") != `attachment; filename="`+r.ID+`.dsse.json"` {
		t.Errorf("download: %d, %q, %d bytes (want the envelope)", code, hdr.Get("Content-Disposition"), len(file))
	}
	if code, hdr, _ := e.getNoRedirect(t, "/deployments/"+r.ID+"/attestation.dsse.json"); code != 302 || !strings.HasPrefix(hdr.Get("Location"), "/login?next=") {
		t.Errorf("download without a login: %d to %q, want a redirect to the login", code, hdr.Get("Location"))
	}

	// The evidence pack samples the change with its attestation, and
	// evidence verify re-verifies it (and needs the key to).
	pack := filepath.Join(t.TempDir(), "pack")
	now := time.Now().UTC()
	code, out, errOut := runCLI(t, "evidence", "--config", e.configPath, "--from", dayArg(now.AddDate(0, 0, -1)),
		"--to", dayArg(now.AddDate(0, 0, 2)), "--out", pack, "--sample", "1")
	if b, err := os.ReadFile(filepath.Join(pack, "attestations", r.ID+".dsse.json")); code != exitOK || err != nil || string(b) != string(a.Envelope) {
		t.Fatalf("tollgate evidence: exit %d, attestation %v\n%s%s", code, err, out, errOut)
	}
	if exc := readPackCSV(t, filepath.Join(pack, "exceptions.csv")); len(exc) != 0 {
		t.Errorf("exceptions in the pack of an attested change: %v", exc)
	}
	code, out, errOut = runCLI(t, "evidence", "verify", pack, "--public-key", filepath.Join(e.dir, "audit.pub"),
		"--attestation-key", filepath.Join(e.dir, "attest.pub"))
	if code != exitOK || !strings.Contains(out, "OK: attestations: 1 attestation re-verified") {
		t.Errorf("evidence verify: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "evidence", "verify", pack, "--public-key", filepath.Join(e.dir, "audit.pub"))
	if code != exitCheckFailed || !strings.Contains(out, "FAIL: attestations: attestations/ holds 1 attestation: give --attestation-key to verify them") {
		t.Errorf("evidence verify without the attestation key: exit %d\n%s", code, out)
	}

	// An attacker's edits, each failing its named check.
	signer, err := attest.LoadSigningKey(filepath.Join(e.dir, "attest.key"))
	if err != nil {
		t.Fatal(err)
	}
	keyDir := t.TempDir()
	if _, err := attest.GenerateKeyFiles(filepath.Join(keyDir, "o.key"), filepath.Join(keyDir, "o.pub"), "mallory"); err != nil {
		t.Fatal(err)
	}
	mallory, err := attest.LoadSigningKey(filepath.Join(keyDir, "o.key"))
	if err != nil {
		t.Fatal(err)
	}
	swapped := v.Statement
	swapped.Predicate.Audit.Entries = append([]attest.AuditEntry(nil), p.Audit.Entries...)
	swapped.Predicate.Audit.Entries[0].Proof = p.Audit.Entries[1].Proof
	tampered := []struct {
		name, want string
		envelope   []byte
	}{
		{"a flipped byte in the predicate", "FAIL: signature: the signature by key " + signer.ID() + " does not verify",
			flipPayloadByte(t, a.Envelope, `"environment":"staging"`, `"environment":"stagimg"`)},
		{"a signature by another key", "FAIL: signature: not signed by a trusted attestation key", mustSign(t, mallory, v.Statement)},
		{"a proof for another entry", "FAIL: audit-proof: ", mustSign(t, signer, swapped)},
	}
	for _, tc := range tampered {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "attestation.dsse.json")
			writeTestFile(t, f, string(tc.envelope))
			code, out := e.verifyAttestation(t, f)
			if code != exitCheckFailed || !strings.HasPrefix(out, tc.want) {
				t.Errorf("exit %d\n%s\nwant exit %d and %q", code, out, exitCheckFailed, tc.want)
			}
		})
	}
}

// browseHeaders is browse, returning the answer's headers.
func (e *e2e) browseHeaders(t *testing.T, login, path string) (int, http.Header, string) {
	t.Helper()
	e.gh.AuthorizeAs(login)
	defer e.gh.AuthorizeAs("")
	public, err := url.Parse(e2ePublic)
	if err != nil {
		t.Fatal(err)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar, Transport: publicURLTransport{public: public, addr: e.target()}, Timeout: time.Minute}
	resp, err := browser.Get(e2ePublic + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// attestKeys are the e2e's trusted public keys.
func (e *e2e) attestKeys(t *testing.T) attest.Keys {
	t.Helper()
	k, err := attest.LoadPublicKey(filepath.Join(e.dir, "attest.pub"))
	if err != nil {
		t.Fatal(err)
	}
	return attest.Keys{Attestation: []attest.PublicKey{k}, Audit: []note.Verifier{e.verifier}}
}

func mustSign(t *testing.T, k attest.SigningKey, st attest.Statement) []byte {
	t.Helper()
	env, err := attest.Sign(context.Background(), k, st)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// flipPayloadByte rewrites one byte of the signed payload (old and new
// differ in one byte), keeping the signatures.
func flipPayloadByte(t *testing.T, envelope []byte, old, new string) []byte {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal(envelope, &env); err != nil {
		t.Fatal(err)
	}
	payload, err := base64.StdEncoding.DecodeString(env["payload"].(string))
	if err != nil || !strings.Contains(string(payload), old) {
		t.Fatalf("payload lacks %s: %v", old, err)
	}
	env["payload"] = base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(payload), old, new, 1)))
	out, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestServeAttestsAReleaseAcrossACrash: the release goes live but its
// attestation cannot be written (a hook left a file named .tollgate in
// the release, where the attestation's directory goes), so the outbox
// keeps retrying; tollgate serve is SIGKILLed then. After the file is
// removed and serve restarted, the attestation signed before the crash
// is written on the server, verifies, and is recorded once.
func TestServeAttestsAReleaseAcrossACrash(t *testing.T) {
	e := newE2E(t, e2eOptions{beforeSwitch: "touch .tollgate"})
	e.listen = freeLoopbackAddr(t)
	e.writeConfig(t, "")
	child := newServeChild(t, e.configPath, e.listen)
	child.start(t)
	p, err := e.gh.Payloads().PullRequestMerged(e2eRepo, 4, sha('c'), "alice", "main")
	if err != nil {
		t.Fatal(err)
	}
	body, err := p.JSON()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.gh.SendWebhookDelivery(context.Background(), child.url("/webhooks/github"), e2eSecret, p.Event,
		"5f1c0c2e-0000-4000-8000-0000000000a8", body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	var r bot.Request
	var signed store.Attestation
	waitFor(t, "the release to go live with its attestation signed but not written", func() bool {
		done := requestsIn(t, e.dbPath, bot.StateSucceeded, bot.StateFailed, bot.StateRolledBack)
		if len(done) != 1 {
			return false
		}
		r = done[0]
		st, err := store.OpenReadOnly(context.Background(), e.dbPath)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		signed, err = st.Attestation(context.Background(), r.ID)
		_, failedOnce := outboxRows(t, e.dbPath, r.ID)
		return err == nil && failedOnce >= 1
	})
	if r.State != bot.StateSucceeded || !signed.WrittenAt.IsZero() {
		t.Fatalf("request %s is %s, attestation written at %v\n%s", r.ID, r.State, signed.WrittenAt, child.logTail())
	}
	child.kill(t)
	release := r.Result.Release
	if _, err := os.Stat(attestationPath(e.root, release)); err == nil {
		t.Fatal("the attestation was written through a file named .tollgate")
	}

	if err := os.Remove(filepath.Join(e.root, "releases", release, ".tollgate")); err != nil {
		t.Fatal(err)
	}
	child.start(t)
	waitFor(t, "the attestation on the server after the restart", func() bool {
		_, err := os.Stat(attestationPath(e.root, release))
		pending, _ := outboxRows(t, e.dbPath, r.ID)
		return err == nil && pending == 0
	})
	if err := child.terminate(t); err != nil {
		t.Fatalf("serve exited with %v\n%s", err, child.logTail())
	}
	b, err := os.ReadFile(attestationPath(e.root, release))
	if err != nil || string(b) != string(signed.Envelope) {
		t.Fatalf("attestation on the server differs from the one signed before the crash: %v", err)
	}
	if code, out := e.verifyAttestation(t, attestationPath(e.root, release)); code != exitOK {
		t.Fatalf("attest verify: exit %d\n%s", code, out)
	}
	st := e.openDB(t)
	if ev := auditData(t, st, "release.attested"); len(ev) != 1 || ev[0]["digest"] != signed.Digest {
		t.Errorf("release.attested entries %v, want one with %s", ev, signed.Digest)
	}
}

// TestServeAttestationPageAfterAKeyRotation: after the attestation key is
// rotated, the deployment page of a release attested by the old key says
// its signature does not verify until the old public key is listed under
// attestation.previous_public_key_files; then it verifies again.
func TestServeAttestationPageAfterAKeyRotation(t *testing.T) {
	e := newE2E(t, e2eOptions{webLogin: true})
	e.start(t)
	if code := e.sendMerge(t, "5f1c0c2e-0000-4000-8000-0000000000a9"); code != 202 {
		t.Fatalf("merge webhook answered %d", code)
	}
	e.deployment(t, "success", "failure", "error")
	var id string
	waitFor(t, "the attestation to be written", func() bool {
		st, err := store.OpenReadOnly(context.Background(), e.dbPath)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		rs, err := st.ListRequests(context.Background(), bot.RequestFilter{Limit: 10})
		if err != nil || len(rs) != 1 {
			return false
		}
		a, err := st.Attestation(context.Background(), rs[0].ID)
		id = rs[0].ID
		return err == nil && !a.WrittenAt.IsZero()
	})
	if code := e.stop(t); code != exitOK {
		t.Fatalf("serve exited %d", code)
	}
	if _, err := attest.GenerateKeyFiles(filepath.Join(e.dir, "attest-2.key"), filepath.Join(e.dir, "attest-2.pub"), "tollgate-e2e-attestation-2"); err != nil {
		t.Fatal(err)
	}
	rotate := func(previous string) { e.rotateAttestationKey(t, "attest-2.key", previous) }
	page := func() string {
		code, page, _ := e.browse(t, "alice", "/deployments/"+id)
		if code != 200 {
			t.Fatalf("deployment page: %d", code)
		}
		return page
	}
	rotate("")
	e.start(t)
	if p := page(); !strings.Contains(p, `<span class="state bad">verification failed</span> <span id="attestation-problem">signature: not signed by a trusted attestation key`) {
		t.Errorf("page verifies the old key's attestation with only the new key trusted:\n%s", p[strings.Index(p, "<h2>Attestation"):])
	}
	e.stop(t)
	rotate("  previous_public_key_files: [attest.pub]\n")
	e.start(t)
	if p := page(); !strings.Contains(p, `<span class="state ok">verified</span> signed by <code>tollgate-e2e-attestation&#43;`) {
		t.Errorf("page does not verify the old key's attestation with it listed as previous:\n%s", p[strings.Index(p, "<h2>Attestation"):])
	}
}

// rotateAttestationKey rewrites the config's attestation section: signing
// with key, and previous (YAML lines, "" for none) under it.
func (e *e2e) rotateAttestationKey(t *testing.T, key, previous string) {
	t.Helper()
	b, err := os.ReadFile(e.configPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := regexp.MustCompile(`(?s)attestation:\n.*?github:`).ReplaceAllString(string(b),
		"attestation:\n  signing_key_file: "+key+"\n"+previous+"github:")
	writeTestFile(t, e.configPath, cfg)
}

// writtenAttestation waits for request id's attestation to be on every
// server and returns it.
func (e *e2e) writtenAttestation(t *testing.T, id string) store.Attestation {
	t.Helper()
	var a store.Attestation
	waitFor(t, "the attestation of "+id+" to be written", func() bool {
		var err error
		e.withDB(t, func(st *store.Store) { a, err = st.Attestation(context.Background(), id) })
		return err == nil && !a.WrittenAt.IsZero()
	})
	return a
}

// TestServeRetiredAttestationKeyIsNotTrustedAfterItsRetirement: the
// attestation key is rotated out because it may have leaked, listed under
// attestation.previous_public_key_files with its retirement time. What it
// signed before then still verifies: the deployment page shows the first
// release verified and the drift check accepts it. An attacker holding
// the key signs the attestation of a release deployed after then (its
// real statement, so every other check passes; trusted without a time it
// verifies) and puts it on the server and in the database: the deployment
// page shows it not verified (key-retirement) and `tollgate drift` reports
// attestation_invalid. Before retirement times reached the config, both
// showed it verified.
func TestServeRetiredAttestationKeyIsNotTrustedAfterItsRetirement(t *testing.T) {
	ctx := context.Background()
	e := newE2E(t, e2eOptions{webLogin: true})
	e.start(t)
	if code := e.sendMerge(t, "5f1c0c2e-0000-4000-8000-0000000000aa"); code != 202 {
		t.Fatalf("merge webhook answered %d", code)
	}
	e.deployment(t, "success", "failure", "error")
	var before bot.Request
	e.withDB(t, func(st *store.Store) { before = onlyRequest(t, st) })
	e.writtenAttestation(t, before.ID)
	if code := e.stop(t); code != exitOK {
		t.Fatalf("serve exited %d", code)
	}

	// The key is rotated out now; the deploys from here on are checkpointed after it.
	if _, err := attest.GenerateKeyFiles(filepath.Join(e.dir, "attest-2.key"), filepath.Join(e.dir, "attest-2.pub"), "tollgate-e2e-attestation-2"); err != nil {
		t.Fatal(err)
	}
	retiredAt := time.Now().UTC().Truncate(time.Second).Add(time.Second)
	e.rotateAttestationKey(t, "attest-2.key", "  previous_public_key_files: [attest.pub@"+retiredAt.Format(time.RFC3339)+"]\n")
	time.Sleep(time.Until(retiredAt))
	e.start(t)
	page := func(id string) string {
		t.Helper()
		code, page, _ := e.browse(t, "alice", "/deployments/"+id)
		if code != 200 || !strings.Contains(page, "<h2>Attestation") {
			t.Fatalf("deployment page of %s: %d\n%s", id, code, page)
		}
		section := page[strings.Index(page, "<h2>Attestation"):]
		if end := strings.Index(section[1:], "<h2>"); end >= 0 {
			section = section[:end+1]
		}
		return section
	}
	drift := func() (int, string) {
		t.Helper()
		var out, errb bytes.Buffer
		code := dispatch(ctx, []string{"drift", "--config", e.configPath, "--environment", "staging"}, &out, &errb)
		return code, out.String() + errb.String()
	}
	const oldKey = `signed by <code>tollgate-e2e-attestation&#43;` // html/template escapes +
	if p := page(before.ID); !strings.Contains(p, `<span class="state ok">verified</span> `+oldKey) {
		t.Errorf("the old key's attestation from before its retirement is not verified:\n%s", p)
	}
	if code, out := drift(); code != exitOK || !strings.Contains(out, ": clean (release "+before.Result.Release+", attestation verified)") {
		t.Errorf("tollgate drift with the release the old key attested before its retirement live: exit %d\n%s", code, out)
	}

	// A release deployed after the retirement, attested by the new key.
	e.openPR(t, 5)
	e.mergePR(t, 5, "alice", "success")
	var after bot.Request
	waitFor(t, "the second deploy to finish", func() bool {
		e.withDB(t, func(st *store.Store) {
			rs, err := st.ListRequests(ctx, bot.RequestFilter{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if r.ID != before.ID && r.Result != nil && r.Result.Release != "" && r.State == bot.StateSucceeded {
					after = r
				}
			}
		})
		return after.ID != ""
	})
	genuine := e.writtenAttestation(t, after.ID)
	if code, out := drift(); code != exitOK || !strings.Contains(out, ": clean (release "+after.Result.Release+", attestation verified)") {
		t.Fatalf("tollgate drift with the new key's attestation live: exit %d\n%s", code, out)
	}

	// The attacker re-signs it with the leaked old key. Trusted without a
	// retirement time, the old key makes it verify.
	leaked, err := attest.LoadSigningKey(filepath.Join(e.dir, "attest.key"))
	if err != nil {
		t.Fatal(err)
	}
	newPub, err := attest.LoadPublicKey(filepath.Join(e.dir, "attest-2.pub"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := attest.Verify(ctx, genuine.Envelope, attest.Keys{Attestation: []attest.PublicKey{newPub}, Audit: []note.Verifier{e.verifier}}, attest.Expectations{})
	if err != nil {
		t.Fatal(err)
	}
	forged := mustSign(t, leaked, v.Statement)
	if _, err := attest.Verify(ctx, forged, e.attestKeys(t), attest.Expectations{}); err != nil {
		t.Fatalf("the forgery does not verify even with the old key trusted for any time: %v", err)
	}
	onServer := attestationPath(e.root, after.Result.Release)
	if err := os.Remove(onServer); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, onServer, string(forged))
	db := audittest.OpenRaw(t, e.dbPath)
	audittest.Exec(t, db, `UPDATE attestations SET envelope = ?, digest = ? WHERE request_id = ?`, forged, store.EnvelopeDigest(forged), after.ID)

	refused := "key-retirement: signed by key " + leaked.ID() + " after it was retired at " + retiredAt.Format(time.RFC3339)
	if p := page(after.ID); !strings.Contains(p, `<span class="state bad">verification failed</span> <span id="attestation-problem">`+
		strings.ReplaceAll(refused, "+", "&#43;")) || strings.Contains(p, `state ok">verified`) {
		t.Errorf("the deployment page does not refuse the leaked old key's attestation from after its retirement:\n%s", p)
	}
	if code, out := drift(); code != exitCheckFailed || !strings.Contains(out, "attestation_invalid: release "+after.Result.Release+": attestation: "+refused) {
		t.Errorf("tollgate drift with the leaked old key's attestation live: exit %d, want %d and attestation_invalid naming the retirement\n%s", code, exitCheckFailed, out)
	}
	if p := page(before.ID); !strings.Contains(p, `<span class="state ok">verified</span> `+oldKey) {
		t.Errorf("the old key's attestation from before its retirement is no longer verified:\n%s", p)
	}
}
