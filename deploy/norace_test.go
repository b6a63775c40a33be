//go:build !race

package deploy

// raceSlowdown scales time budgets in tests: the race detector makes code
// several times slower.
const raceSlowdown = 1
