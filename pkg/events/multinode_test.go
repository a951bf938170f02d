package events

import "testing"

func TestTokenRoundTrip(t *testing.T) {
	for id, tok := range map[string]string{
		"0f1e-2d":    "0f1e-2d",
		"0f1e-2d:3":  "0f1e-2d_3",
		"0f1e-2d#12": "0f1e-2d__12",
	} {
		if got := Token(id); got != tok {
			t.Errorf("Token(%q) = %q, want %q", id, got, tok)
		}
		if got := JobFromToken(tok); got != id {
			t.Errorf("JobFromToken(%q) = %q, want %q", tok, got, id)
		}
	}
}
