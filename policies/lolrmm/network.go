package lolrmm

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// hostResult is the outcome for one Artifacts.Network domain.
type hostResult struct {
	host     string // host-name pattern ('*' and '?' wildcards), or
	ip       string // an IP address
	rewrites []rewrite
	reason   string // non-empty: skipped
}

var (
	reScheme    = regexp.MustCompile(`^[a-z][a-z0-9+.-]*://`)
	rePortSufx  = regexp.MustCompile(`:(\d{1,5})$`)
	reRegexEsc  = regexp.MustCompile(`\\([.\-])`)
	reRegexAny  = regexp.MustCompile(`\.[*+]`)
	reDigitQ    = regexp.MustCompile(`\\d(\{\d+\}|[*+])?`)
	reHostChars = regexp.MustCompile(`^[a-z0-9*?._-]+$`)
)

// placeholders stand for "whatever the operator configured": no host name to match.
var placeholders = toSet(`user_managed n/a na none unknown tbd self-hosted selfhosted custom`)

// sharedHosts are hosts (and, as "*.x", suffixes) that unrelated software contacts all the time
// (code hosting, cloud storage front doors): a tool's use of them identifies nothing.
var sharedHosts = toSet(`github.com api.github.com codeload.github.com gist.github.com
	raw.githubusercontent.com objects.githubusercontent.com release-assets.githubusercontent.com
	githubusercontent.com gitlab.com bitbucket.org google.com www.google.com googleapis.com
	storage.googleapis.com microsoft.com www.microsoft.com login.microsoftonline.com apple.com
	amazonaws.com s3.amazonaws.com cloudfront.net azurewebsites.net windows.net
	blob.core.windows.net servicebus.windows.net cloudflare.com cloudflare.net cloudflarestorage.com
	r2.cloudflarestorage.com firebaseapp.com web.app herokuapp.com github.io pages.dev workers.dev
	appspot.com digitaloceanspaces.com akamaized.net akamaihd.net fastly.net`)

// classifyHost turns one Domains entry into a DestinationHostname pattern or DestinationIp.
func classifyHost(raw string) hostResult {
	var r hostResult
	s := strings.ToLower(strings.TrimSpace(raw))
	if s == "" || placeholders[s] || strings.HasPrefix(s, "<") || strings.ContainsAny(s, " \t") {
		r.reason = "placeholder, not a host name"
		return r
	}
	orig := s
	s = reScheme.ReplaceAllString(s, "")
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return ipResult(a, orig, r)
	}
	if m := rePortSufx.FindStringSubmatch(s); m != nil {
		s = strings.TrimSuffix(s, m[0])
		if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
			return ipResult(a, orig, r)
		}
	}
	s = strings.TrimSuffix(s, ".")
	if s != orig {
		r.rewrites = append(r.rewrites, rewrite{orig, s, "scheme, path or :port removed (a host name has none)"})
	}
	if strings.ContainsAny(s, `[]{}()+\^$|`) {
		t := reRegexEsc.ReplaceAllString(s, "$1")
		t = reDigitQ.ReplaceAllStringFunc(t, func(m string) string {
			switch q := strings.TrimPrefix(m, `\d`); {
			case q == "":
				return "?"
			case q == "*" || q == "+":
				return "*"
			default:
				n, _ := strconv.Atoi(q[1 : len(q)-1])
				if n < 1 || n > 63 {
					return "*"
				}
				return strings.Repeat("?", n)
			}
		})
		t = convertCharClasses(t)
		t = reRegexAny.ReplaceAllString(t, "*")
		t = strings.Trim(t, "^$")
		if strings.ContainsAny(t, `[]{}()+\^$|`) {
			r.reason = "regular expression that has no wildcard equivalent"
			return r
		}
		r.rewrites = append(r.rewrites, rewrite{s, t, "regex rewritten as a Sigma wildcard"})
		s = t
	}
	s = reStars.ReplaceAllString(s, "*")
	if !reHostChars.MatchString(s) || !strings.Contains(s, ".") || strings.Contains(s, "..") ||
		strings.HasPrefix(s, ".") || strings.HasPrefix(s, "-") {
		r.reason = "not a host name"
		return r
	}
	// A wildcard must leave a specific tail: "*.anydesk.com" is fine, "*.com" is everything.
	if i := strings.LastIndexAny(s, "*?"); i >= 0 && strings.Count(s[i+1:], ".") < 2 {
		r.reason = "wildcard over a whole top-level domain"
		return r
	}
	if sharedHosts[s] || sharedHosts[strings.TrimPrefix(strings.TrimPrefix(s, "*"), ".")] && strings.HasPrefix(s, "*") {
		r.reason = "shared hosting or code-hosting domain: unrelated software contacts it"
		return r
	}
	r.host = s
	return r
}

func ipResult(a netip.Addr, orig string, r hostResult) hostResult {
	a = a.Unmap()
	if a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() ||
		!a.IsGlobalUnicast() {
		r.reason = "private or reserved address"
		return r
	}
	if a.String() != orig {
		r.rewrites = append(r.rewrites, rewrite{orig, a.String(), ":port removed"})
	}
	r.ip = a.String()
	return r
}

// commonPorts are used by so much unrelated software that a connection on one says nothing
// about a tool (every port below 1024 counts as common too).
var commonPorts = map[int]bool{
	1080: true, 1194: true, 1313: true, 1433: true, 1521: true, 1883: true, 2049: true, 2375: true,
	3000: true, 3128: true, 3306: true, 3333: true, 3389: true, 3478: true, 4443: true, 5000: true, 5001: true,
	5060: true, 5222: true, 5349: true, 5353: true, 5432: true, 5555: true, 5671: true, 5672: true,
	5900: true, 5985: true, 5986: true, 6379: true, 8000: true, 8008: true, 8080: true, 8081: true,
	8088: true, 8443: true, 8888: true, 9000: true, 9090: true, 9200: true, 9443: true,
	10000: true, 10001: true, 11211: true, 27017: true, 51820: true,
}

// classifyPort keeps ports that identify a tool.
func classifyPort(raw string) (int, string) {
	s := strings.TrimSpace(raw)
	if strings.Contains(s, "-") {
		return 0, "port range: matches almost every connection"
	}
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, "not a port number"
	}
	if p < 1024 || commonPorts[p] {
		return 0, "common port: used by unrelated software"
	}
	return p, ""
}
