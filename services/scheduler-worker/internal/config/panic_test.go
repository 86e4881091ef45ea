package config_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/config"
)

// panicEnv names the case a re-executed test binary panics with.
const panicEnv = "FERRY_CONFIG_PANIC_CASE"

// panics are the ways a loaded configuration can end up in a panic: the
// runtime prints the value with its Error or String method, and goroutine
// traces print arguments as machine words, never string contents.
var panics = map[string]func(config.Config){
	"config value":   func(c config.Config) { panic(c) },
	"config pointer": func(c config.Config) { panic(&c) },
	"token":          func(c config.Config) { panic(c.APIToken) },
	"database url":   func(c config.Config) { panic(c.DatabaseURL) },
	"wrapped error":  func(c config.Config) { panic(fmt.Errorf("starting with %v: %w", c, errors.New("boom"))) },
	"formatted":      func(c config.Config) { panic(fmt.Sprintf("%+v %#v %s", c, c, c.DatabaseURL)) },
	"in a call":      func(c config.Config) { crash(c.APIToken, c.DatabaseURL, c) },
}

//go:noinline
func crash(token, db config.Secret, c config.Config) { panic("crashing") }

// TestPanicsNeverPrintSecrets provokes real panics in a child process
// holding a loaded configuration and scans everything it printed.
func TestPanicsNeverPrintSecrets(t *testing.T) {
	if name := os.Getenv(panicEnv); name != "" {
		cfg, err := config.Load(lookup(valid()))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		panics[name](cfg)
		return
	}
	for name := range panics {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestPanicsNeverPrintSecrets$")
			cmd.Env = append(os.Environ(), panicEnv+"="+name, "GOTRACEBACK=all")
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("child exit = %v, want the runtime's panic exit 2; output:\n%s", err, out)
			}
			if !strings.Contains(string(out), "panic: ") || !strings.Contains(string(out), "goroutine ") {
				t.Fatalf("child did not panic with a trace; output:\n%s", out)
			}
			for _, secret := range []string{"pg-pass-7731", token} {
				if strings.Contains(string(out), secret) {
					t.Fatalf("panic output leaks a secret")
				}
			}
		})
	}
}
