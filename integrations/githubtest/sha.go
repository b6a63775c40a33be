package githubtest

// SHA makes a 40-hex-digit commit SHA from a label, the same for the same
// label, so tests and the fake's world read well ("feature", "main-2").
func SHA(label string) string {
	const hexdigits = "0123456789abcdef"
	b := make([]byte, 40)
	for i := range b {
		c := byte(0)
		if len(label) > 0 {
			c = label[i%len(label)]
		}
		b[i] = hexdigits[(int(c)+i*7)%16]
	}
	return string(b)
}
