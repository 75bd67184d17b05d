package authz

// Exported for tests: the fail-closed guard against rule fields Covers does
// not weigh, which today's config types cannot exercise.
var (
	UnknownFields  = unknownFields
	AllZero        = allZero
	UnweighedRule  = &unweighedRule
	UnweighedClaim = &unweighedClaim
)
