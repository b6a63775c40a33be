package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSecretNeverPrints(t *testing.T) {
	const value = "xoxb-very-secret-token"
	cfg, _ := mustParse(t, "tollgate.yml", strings.Replace(baseConfig, "${WEBHOOK_SECRET}", "${W}", 1),
		env(map[string]string{"W": value}))
	gh := cfg.GitHub
	var logText, logJSON bytes.Buffer
	slog.New(slog.NewTextHandler(&logText, nil)).Info("cfg", "github", gh, "secret", gh.WebhookSecret)
	slog.New(slog.NewJSONHandler(&logJSON, nil)).Info("cfg", "github", gh, "secret", gh.WebhookSecret)
	jsonBytes, err := json.Marshal(gh)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v":         fmt.Sprintf("%v", gh),
		"%+v":        fmt.Sprintf("%+v", gh),
		"%#v":        fmt.Sprintf("%#v", gh),
		"%s secret":  fmt.Sprintf("secret=%s", gh.WebhookSecret),
		"%q secret":  fmt.Sprintf("%q", gh.WebhookSecret),
		"%+v config": fmt.Sprintf("%+v", *cfg),
		"json":       string(jsonBytes),
		"slog text":  logText.String(),
		"slog json":  logJSON.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, value) {
			t.Errorf("%s discloses the secret: %s", name, out)
		}
		if !strings.Contains(out, "[redacted]") {
			t.Errorf("%s does not say [redacted]: %s", name, out)
		}
	}
	if gh.WebhookSecret.Value() != value {
		t.Errorf("Value() = %q, want the secret", gh.WebhookSecret.Value())
	}
}
