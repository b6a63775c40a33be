// Package benchscale measures Tollgate at the size of a large
// organisation's year: histories of 1k, 10k and 100k deploy requests made
// by the project's own generator (evidencetest.Build driving bot.Service
// on a real store), then the time and peak RSS of the commands an
// operator and an auditor run, and the latency of the pages. `make
// bench-scale` runs its test (build tag benchscale); it is not part of CI.
package benchscale
