package reload

import "time"

// SetRetry shortens the backoff between failed lists and watches.
func SetRetry(lo, hi time.Duration) (restore func()) {
	oldMin, oldMax := retryMin, retryMax
	retryMin, retryMax = lo, hi
	return func() { retryMin, retryMax = oldMin, oldMax }
}

// SetInCluster points the in-cluster configuration at other files.
func SetInCluster(tokenFile, caFile string) (restore func()) {
	oldToken, oldCA := inClusterTokenFile, inClusterCAFile
	inClusterTokenFile, inClusterCAFile = tokenFile, caFile
	return func() { inClusterTokenFile, inClusterCAFile = oldToken, oldCA }
}
