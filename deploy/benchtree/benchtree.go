// Package benchtree writes the repository the deploy benchmarks ship: the
// same files for the engine's benchmarks and the GitHub tree source's, so
// their numbers are of one workload.
package benchtree

import (
	"crypto/rand"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
)

// Write writes files files of log-uniformly mixed sizes (tens of bytes to
// about a megabyte) totalling bytes under root, 100 per directory, always
// the same sizes and names, and returns their paths relative to root.
func Write(root string, files, bytes int) ([]string, error) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	sizes := make([]float64, files)
	var sum float64
	for i := range sizes {
		sizes[i] = math.Exp(math.Log(64) + rng.Float64()*(math.Log(1<<20)-math.Log(64)))
		sum += sizes[i]
	}
	buf := make([]byte, 4<<20)
	_, _ = rand.Read(buf)
	paths := make([]string, files)
	total := 0
	for i := range sizes {
		n := int(sizes[i] / sum * float64(bytes))
		if i == len(sizes)-1 {
			n = bytes - total
		}
		total += n
		rel := fmt.Sprintf("d%03d/f%05d.dat", i/100, i)
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		off := rng.IntN(len(buf) - n)
		if err := os.WriteFile(p, buf[off:off+n], 0o644); err != nil {
			return nil, fmt.Errorf("benchtree: %w", err)
		}
		paths[i] = rel
	}
	return paths, nil
}
