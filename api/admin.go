package api

import (
	"net/http"
	"regexp"
	"time"

	"github.com/shoppulse/shoppulse/store"
)

// adminRoutes manage API keys; they need the admin scope.
func (s *Server) adminRoutes() []route {
	return []route{
		{method: http.MethodGet, path: "/v1/admin/keys", scope: ScopeAdmin, h: s.handleListKeys},
		{method: http.MethodPost, path: "/v1/admin/keys", scope: ScopeAdmin, h: s.handleCreateKey},
		{method: http.MethodDelete, path: "/v1/admin/keys/{id}", scope: ScopeAdmin, h: s.handleRevokeKey},
	}
}

// KeyInfo is an API key without its secret.
type KeyInfo struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Scopes     []string `json:"scopes"`
	CreatedAt  string   `json:"created_at"`
	LastUsedAt *string  `json:"last_used_at"`
	RevokedAt  *string  `json:"revoked_at"`
}

func keyInfoOf(k store.APIKey) KeyInfo {
	out := KeyInfo{ID: k.ID, Name: k.Name, Scopes: k.Scopes, CreatedAt: k.CreatedAt.UTC().Format(time.RFC3339Nano)}
	if k.LastUsedAt != nil {
		out.LastUsedAt = optTime(*k.LastUsedAt)
	}
	if k.RevokedAt != nil {
		out.RevokedAt = optTime(*k.RevokedAt)
	}
	return out
}

func (s *Server) handleListKeys(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	if !p.ok(w) {
		return
	}
	keys, err := s.db.APIKeys(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := struct {
		Items []KeyInfo `json:"items"`
	}{Items: make([]KeyInfo, len(keys))}
	for i, k := range keys {
		out.Items[i] = keyInfoOf(k)
	}
	writeJSON(w, http.StatusOK, out)
}

// CreateKeyRequest is the body of POST /v1/admin/keys.
type CreateKeyRequest struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
}

// CreatedKey is a new key: the token is shown this once.
type CreatedKey struct {
	KeyInfo
	Token string `json:"token"`
}

func (s *Server) handleCreateKey(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	if !p.ok(w) {
		return
	}
	var body CreateKeyRequest
	if !readSmallJSON(w, r, &body, false) {
		return
	}
	tok, k, err := NewAPIKey(body.Name, body.Scopes)
	if err != nil {
		path := "/scopes"
		if body.Name == "" || len(body.Name) > 200 {
			path = "/name"
		}
		bodyError(w, r, []ProblemError{{Path: path, Reason: err.Error()}})
		return
	}
	if len(k.Name) > 200 {
		bodyError(w, r, []ProblemError{{Path: "/name", Reason: "at most 200 characters"}})
		return
	}
	k, err = s.db.CreateAPIKey(r.Context(), k)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, CreatedKey{KeyInfo: keyInfoOf(k), Token: tok})
}

var keyIDRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

func (s *Server) handleRevokeKey(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	id := r.PathValue("id")
	if !keyIDRE.MatchString(id) {
		p.fail("id", "%q is not a key id (16 hex digits)", id)
	}
	if !p.ok(w) {
		return
	}
	if _, err := s.db.RevokeAPIKey(r.Context(), id); s.storeError(w, r, err) {
		return
	}
	s.keys.forget(id)
	k, err := s.db.APIKey(r.Context(), id)
	if s.storeError(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, keyInfoOf(k))
}
