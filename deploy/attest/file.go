package attest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// FileName is where a release's attestation lives, relative to the
// release directory (<path>/releases/<name>/).
const FileName = ".tollgate/attestation.dsse.json"

// MaxSize bounds an attestation file; a deploy's audit entries with their
// proofs take some kilobytes.
const MaxSize = 16 << 20

// ReadFile reads an attestation from path: the envelope file itself, or a
// release directory fetched from a server, holding it at FileName. It
// returns the bytes and the file read.
func ReadFile(path string) ([]byte, string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, path, fmt.Errorf("read attestation: %w", err)
	}
	if fi.IsDir() {
		path = filepath.Join(path, filepath.FromSlash(FileName))
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && fi.IsDir() {
			return nil, path, fmt.Errorf("read attestation: the release directory has no %s", FileName)
		}
		return nil, path, fmt.Errorf("read attestation: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, path, fmt.Errorf("read attestation %s: %w", path, err)
	}
	if len(data) > MaxSize {
		return nil, path, fmt.Errorf("read attestation %s: larger than %d bytes", path, MaxSize)
	}
	return data, path, nil
}
