// Package models finds the model files the setup step installs from npm
// registry packages (they are never committed, nor fetched at run time).
package models

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// SileroVAD is the file name of the voice activity network.
const SileroVAD = "silero_vad_v5.onnx"

// Dirs lists where model files are looked for, in order: $CONTACTD_MODEL_DIR,
// the per-user directory, then the system ones scripts/setup.sh uses.
func Dirs() []string {
	var dirs []string
	if d := os.Getenv("CONTACTD_MODEL_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".local", "share", "contactd", "models"))
	}
	return append(dirs, "/usr/local/share/contactd/models", "/usr/share/contactd/models")
}

// Find returns the path of the named model file: explicit if set (a
// configured path), else the first of Dirs that has it.
func Find(name, explicit string) (string, error) {
	if explicit != "" {
		if _, err := os.Stat(explicit); err != nil {
			return "", fmt.Errorf("model %s: %w", explicit, err)
		}
		return explicit, nil
	}
	for _, d := range Dirs() {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("model %s not found in %s: run scripts/setup.sh (it installs the models) or set CONTACTD_MODEL_DIR",
		name, strings.Join(Dirs(), ", "))
}
