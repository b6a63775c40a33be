package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tollgate-dev/tollgate/deploy/attest"
)

// maxKeyFileSize bounds how much of a key file Load reads to compare keys.
const maxKeyFileSize = 1 << 20

// Load reads, decodes and validates the config file at path with ${VAR}
// taken from the process environment. Beyond Parse it checks the files the
// config names: each must exist (the database's directory must), key files
// should not be accessible by group or others (a warning), and no two
// environments may use SSH keys with the same contents.
func Load(path string) (*Config, []Warning, error) {
	data, err := readLimitedN(path, MaxFileSize+1) // one byte more, so Parse reports an oversized file
	if err != nil {
		return nil, nil, fmt.Errorf("read config %s: %w", path, err)
	}
	d := parse(path, data, os.LookupEnv)
	d.checkFiles()
	return d.finish()
}

// checkFiles checks every file the config names, as decoded by parse.
func (d *decoder) checkFiles() {
	type keyFile struct {
		ref  fileRef
		data []byte
	}
	var sshKeys []keyFile
	for _, f := range d.files {
		if f.created {
			dir := filepath.Dir(f.path)
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				d.errorf(f.line, f.key, "directory %q does not exist", dir)
			}
			continue
		}
		st, err := os.Stat(f.path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			d.errorf(f.line, f.key, "file %q does not exist", f.path)
			continue
		case err != nil:
			d.errorf(f.line, f.key, "cannot read file %q: %v", f.path, cause(err))
			continue
		case st.IsDir():
			d.errorf(f.line, f.key, "%q is a directory, not a file", f.path)
			continue
		}
		if f.secret && st.Mode().Perm()&0o077 != 0 {
			d.warnf(f.line, f.key, "key file %q has mode %04o, accessible by group or others; run chmod 600 %s",
				f.path, st.Mode().Perm(), f.path)
		}
		if f.attest {
			d.checkAttestationKey(f)
		}
		if f.sshKey {
			data, err := readLimitedN(f.path, maxKeyFileSize)
			if err != nil {
				d.errorf(f.line, f.key, "cannot read file %q: %v", f.path, cause(err))
				continue
			}
			sshKeys = append(sshKeys, keyFile{f, bytes.TrimSpace(data)})
		}
	}
	// Same contents under two names is the same credential.
	for i, k := range sshKeys {
		for _, prev := range sshKeys[:i] {
			if prev.ref.env != k.ref.env && prev.ref.path != k.ref.path && bytes.Equal(prev.data, k.data) {
				d.errorf(k.ref.line, k.ref.key, "SSH key file %q holds the same key as %q used by %s (line %d); each environment needs its own key",
					k.ref.path, prev.ref.path, prev.ref.env, prev.ref.line)
				break
			}
		}
	}
}

// checkAttestationKey refuses an attestation signing key that is not one,
// or that is the audit signing key: an attestation and a checkpoint must
// not be interchangeable, and each key rotates on its own.
func (d *decoder) checkAttestationKey(f fileRef) {
	data, err := readLimitedN(f.path, maxKeyFileSize)
	if err != nil {
		d.errorf(f.line, f.key, "cannot read file %q: %v", f.path, cause(err))
		return
	}
	if _, err := attest.ParseSigningKey(string(data)); err != nil {
		d.errorf(f.line, f.key, "file %q: %v (create one with tollgate keygen --attestation)", f.path, err)
		return
	}
	for _, g := range d.files {
		if g.key != "audit.signing_key_file" {
			continue
		}
		if g.path == f.path {
			d.errorf(f.line, f.key, "is the audit signing key %q; the attestation key must be its own (tollgate keygen --attestation)", g.path)
			return
		}
		if audit, err := readLimitedN(g.path, maxKeyFileSize); err == nil && bytes.Equal(bytes.TrimSpace(audit), bytes.TrimSpace(data)) {
			d.errorf(f.line, f.key, "file %q holds the audit signing key of %q; the attestation key must be its own (tollgate keygen --attestation)", f.path, g.path)
		}
	}
}

func readLimitedN(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}

// cause drops the operation and path from a *fs.PathError, which the
// message already names.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
