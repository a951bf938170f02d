package auth

// match reports whether s matches the IAM pattern p, in which * matches any
// run of characters (also none) and ? any one character. It runs in
// O(len(p)·len(s)) at worst (no recursion, no backtracking blow-up).
func match(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*': // before the literal case: a * in s is not matched by a * in p literally
			star, mark = pi, si
			pi++
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// matchFold is match ignoring ASCII case (IAM action names are case
// insensitive).
func matchFold(p, s string) bool { return match(lowerASCII(p), lowerASCII(s)) }

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
