package signing

import (
	"errors"
	"fmt"
	"testing"
)

func TestSignVerifyKey(t *testing.T) {
	for _, referrers := range []bool{true, false} {
		for _, f := range []Format{FormatLegacy, FormatBundle, FormatBoth} {
			t.Run(fmt.Sprintf("%s/referrers=%v", f, referrers), func(t *testing.T) {
				host := newRegistry(t, referrers)
				d := pushRandom(t, host, "app")
				k := newKey(t)
				res, err := Sign(ctx, d, newKeySigner(t, k), WithFormat(f), WithAnnotations(map[string]string{"run": "42"}))
				if err != nil {
					t.Fatal(err)
				}
				if (res.Tag != nil) != f.legacy() || (res.Referrer != nil) != f.bundle() {
					t.Fatalf("result %+v does not match format %s", res, f)
				}
				rep, err := Verify(ctx, d, keyPolicy(t, k))
				if err != nil {
					t.Fatal(err)
				}
				want := 1
				if f == FormatBoth {
					want = 2
				}
				if len(rep.Signatures) != want {
					t.Fatalf("verified %d signatures, want %d: %+v", len(rep.Signatures), want, rep.Signatures)
				}
				for _, s := range rep.Signatures {
					if s.KeyID == "" || s.LogIndex != -1 || !s.Time.IsZero() {
						t.Errorf("report %+v: want key id, no log index, no time", s)
					}
				}
				// The policy can restrict the formats it reads.
				for _, only := range []Format{FormatLegacy, FormatBundle} {
					_, err := Verify(ctx, d, keyPolicy(t, k, WithFormats(only)))
					wantOK := (only == FormatLegacy && f.legacy()) || (only == FormatBundle && f.bundle())
					if (err == nil) != wantOK {
						t.Errorf("verify reading only %s: err %v, want ok=%v", only, err, wantOK)
					}
				}
			})
		}
	}
}

func TestVerifyWrongKey(t *testing.T) {
	for _, f := range []Format{FormatLegacy, FormatBundle} {
		t.Run(string(f), func(t *testing.T) {
			host := newRegistry(t, true)
			d := pushRandom(t, host, "app")
			if _, err := Sign(ctx, d, newKeySigner(t, newKey(t)), WithFormat(f)); err != nil {
				t.Fatal(err)
			}
			_, err := Verify(ctx, d, keyPolicy(t, newKey(t)))
			assertChecks(t, err, CheckSignature)
		})
	}
}

func TestVerifyUnsigned(t *testing.T) {
	host := newRegistry(t, true)
	d := pushRandom(t, host, "app")
	_, err := Verify(ctx, d, keyPolicy(t, newKey(t)))
	if !errors.Is(err, ErrNoSignatures) {
		t.Fatalf("err = %v, want ErrNoSignatures", err)
	}
}

// assertChecks requires a *VerifyError whose failures name exactly checks.
func assertChecks(t *testing.T, err error, checks ...string) {
	t.Helper()
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want a *VerifyError", err)
	}
	got := ve.Checks()
	if fmt.Sprint(got) != fmt.Sprint(checks) {
		t.Fatalf("failed checks %v, want %v (%v)", got, checks, err)
	}
}
