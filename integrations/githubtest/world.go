package githubtest

import (
	"cmp"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
	"time"
)

// world is the fake GitHub's state. Every access holds Server.mu.
type world struct {
	app           appInfo
	nextID        int64
	installations map[int64]*installation
	tokens        map[string]*accessToken
	users         map[string]*user // by lower-case login
	orgs          map[string]*org  // by lower-case login
	repos         map[string]*repo // by lower-case full name
	oauth         oauthState
	downloads     map[string]download // codeload tokens
	callbacks     []ProtectionRuleCallback
}

// appInfo is the one GitHub App the fake knows.
type appInfo struct {
	id            int64
	slug, name    string
	owner         string
	key           *rsa.PrivateKey
	clientID      string
	clientSecret  string
	webhookSecret string
	hookID        int64
	botUserID     int64
	created       time.Time
}

type installation struct {
	id          int64
	account     string
	suspended   bool
	created     time.Time
	permissions map[string]string // granted; nil means appPermissions()
}

// accessToken is an installation token (installationID set) or an OAuth user
// token (user set).
type accessToken struct {
	installationID int64
	user           string
	expires        time.Time
}

type user struct {
	id    int64
	login string
	name  string
	email string
	typ   string // "User", "Bot" or "Organization"
}

type org struct {
	id      int64
	login   string
	twoFA   bool
	base    string            // members' base repository permission; "" means read, GitHub's default
	members map[string]string // lower login → role ("admin" or "member")
	teams   map[string]*team  // by slug
}

type team struct {
	id      int64
	slug    string
	name    string
	members map[string]string // lower login → role ("member" or "maintainer")
}

type repo struct {
	id            int64
	owner, name   string
	defaultBranch string
	private       bool
	commits       map[string]*commit
	branches      map[string]string // branch → head SHA
	tags          map[string]string // tag → SHA
	protection    map[string]BranchProtection
	issues        map[int]*issue
	nextNumber    int
	comments      map[int64]*comment
	statuses      map[string][]*commitStatus   // by SHA, oldest first
	checkRuns     map[string][]*checkRun       // by SHA
	deployments   []*deployment                // oldest first
	tarballs      map[string][]byte            // SHA → tar.gz
	git           *gitObjects                  // trees and blobs of the commits with a tarball
	files         map[string]map[string][]byte // branch → path → content
	collaborators map[string]string            // lower login → role (read, triage, write, maintain, admin)
}

type commit struct {
	sha     string
	parents []string
	message string
	author  string
	at      time.Time
	tree    string // the tree's SHA: equal trees mean equal content; "" means one of its own
}

// treeSHA is the commit's tree: the one its content set, or one no other
// commit has.
func (c *commit) treeSHA() string {
	if c.tree != "" {
		return c.tree
	}
	sum := sha1.Sum([]byte("tree of " + c.sha))
	return hex.EncodeToString(sum[:])
}

type issue struct {
	number  int
	title   string
	body    string
	author  string
	labels  []string
	state   string
	created time.Time
	pr      *pull
}

type pull struct {
	headRef  string
	headSHA  string
	base     string
	merged   bool
	mergeSHA string
	mergedBy string
	mergedAt time.Time
	reviews  []*review
	commits  []string
}

type review struct {
	id       int64
	user     string
	state    string
	commitID string
	body     string
	at       time.Time
}

type comment struct {
	id        int64
	issue     int
	user      string
	body      string
	created   time.Time
	updated   time.Time
	edits     int
	reactions []Reaction
}

type commitStatus struct {
	id          int64
	state       string
	context     string
	description string
	targetURL   string
	creator     string
	at          time.Time
}

type checkRun struct {
	id         int64
	name       string
	status     string
	conclusion string
	at         time.Time
}

type download struct {
	repo    string
	sha     string
	expires time.Time
}

func newWorld(key *rsa.PrivateKey) *world {
	w := &world{
		nextID:        1000,
		installations: map[int64]*installation{},
		tokens:        map[string]*accessToken{},
		users:         map[string]*user{},
		orgs:          map[string]*org{},
		repos:         map[string]*repo{},
		downloads:     map[string]download{},
	}
	w.oauth.codes = map[string]*oauthCode{}
	w.oauth.manifestCodes = map[string]time.Time{}
	w.app = appInfo{
		id: 1, slug: "tollgate", name: "Tollgate", owner: "tollgate-dev", key: key,
		clientID:      "Iv1." + randHex(8),
		clientSecret:  randHex(20),
		webhookSecret: randHex(20),
		hookID:        w.newID(),
		created:       time.Now().UTC().Truncate(time.Second),
	}
	bot := w.ensureUser(w.app.slug + "[bot]")
	bot.typ = "Bot"
	w.app.botUserID = bot.id
	return w
}

// newID hands out ids unique across all object kinds, as GitHub's are per kind.
func (w *world) newID() int64 {
	w.nextID++
	return w.nextID
}

// ensureUser returns the user with that login, creating it if needed.
func (w *world) ensureUser(login string) *user {
	k := strings.ToLower(login)
	if u, ok := w.users[k]; ok {
		return u
	}
	u := &user{id: w.newID(), login: login, name: login, email: strings.ToLower(login) + "@users.noreply.example", typ: "User"}
	w.users[k] = u
	return u
}

// ensureOrg returns the organisation with that login, creating it if needed.
func (w *world) ensureOrg(login string) *org {
	k := strings.ToLower(login)
	if o, ok := w.orgs[k]; ok {
		return o
	}
	o := &org{id: w.newID(), login: login, members: map[string]string{}, teams: map[string]*team{}}
	w.orgs[k] = o
	return o
}

// repo finds a repository by "owner/name", case-insensitively.
func (w *world) repo(fullName string) *repo {
	return w.repos[strings.ToLower(fullName)]
}

// installationFor returns the installation covering an account, if any.
func (w *world) installationFor(account string) *installation {
	for _, in := range w.installations {
		if strings.EqualFold(in.account, account) {
			return in
		}
	}
	return nil
}

// randHex returns n random bytes hex-encoded.
func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// short returns the first seven characters of a SHA.
func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// sortedKeys returns a map's keys in order, for stable listings.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K { return slices.Sorted(maps.Keys(m)) }
