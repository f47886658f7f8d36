package httpapi

import (
	"net/mail"
	"sort"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/internal/room"
	"github.com/parleyhq/parley/internal/signal"
)

// emailPrefix marks the member list's entries the owner wrote: e-mail
// addresses, matched against a signed-in user's address from the
// provider. Entries without it are subjects (people promoted in a
// meeting).
const emailPrefix = "email:"

// maxMembers bounds a room's member list.
const maxMembers = 1000

// Roles on a room's member list.
const (
	listedMember    = "member"
	listedModerator = room.RoleModerator
)

// member is one entry of a room's member list in the REST API.
type member struct {
	Email string `json:"email"`
	Role  string `json:"role"` // member or moderator
}

// ownerSettings is what the owner's settings endpoint answers: the
// settings and the member list.
type ownerSettings struct {
	roomSettings
	Members []member `json:"members"`
}

// memberKey is the store key of an e-mail address, or "" when s is not
// one.
func memberKey(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || len(s) > 320 {
		return ""
	}
	return emailPrefix + s
}

// memberList checks a member list from the owner and keys it for the
// store.
func memberList(in []member) (map[string]string, error) {
	if len(in) > maxMembers {
		return nil, signal.NewError(signal.CodeInvalidField, "members: at most 1000")
	}
	out := make(map[string]string, len(in))
	for i, m := range in {
		k := memberKey(m.Email)
		if k == "" {
			return nil, signal.NewError(signal.CodeInvalidField, "members["+strconv.Itoa(i)+"]: not an e-mail address")
		}
		switch m.Role {
		case "":
			m.Role = listedMember
		case listedMember, listedModerator:
		default:
			return nil, signal.NewError(signal.CodeInvalidField, "members: role is member or moderator")
		}
		out[k] = m.Role
	}
	return out, nil
}

// listedMembers is the owner-written part of a member list, sorted.
func listedMembers(all map[string]string) []member {
	out := []member{}
	for k, role := range all {
		if e, ok := strings.CutPrefix(k, emailPrefix); ok {
			out = append(out, member{Email: e, Role: role})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Email < out[j].Email })
	return out
}

// listedRole is a person's role on a member list: by subject (promoted
// in a meeting) first, then by e-mail address; ok is false when they
// are not listed.
func listedRole(members map[string]string, subject, email string) (role string, ok bool) {
	if role, ok = members[subject]; ok {
		return role, true
	}
	if email == "" {
		return "", false
	}
	k := memberKey(email)
	if k == "" {
		return "", false
	}
	role, ok = members[k]
	return role, ok
}
