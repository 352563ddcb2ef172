package parity_test

import "testing"

func runRatings(t *testing.T, s *section, used map[string]bool) []result {
	return nil
}
