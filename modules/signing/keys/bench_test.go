package keys

import "testing"

// BenchmarkParsePrivate measures decrypting a cosign.key (scrypt N=32768,
// r=8, p=1, as cosign writes it): the fixed cost of every key load.
func BenchmarkParsePrivate(b *testing.B) {
	pw := func() ([]byte, error) { return []byte("pw"), nil }
	p, err := Generate(pw)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ParsePrivate(p.PrivatePEM, pw); err != nil {
			b.Fatal(err)
		}
	}
}
