package reload

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// WatchFile offers the file's content to r whenever its directory changes
// (kubelet updates a mounted ConfigMap by swapping a symlink, which a watch
// on the file itself would miss), and every poll interval as a safety net.
// It returns when ctx ends.
func WatchFile(ctx context.Context, path string, poll time.Duration, r *Reloader, log *slog.Logger) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	if err := w.Add(filepath.Dir(path)); err != nil {
		return err
	}
	offer := func() {
		raw, err := os.ReadFile(path)
		if err != nil {
			log.Warn("configuration file unreadable; the previous configuration stays in force", "path", path, "error", err.Error())
			return
		}
		_ = r.Offer(SourceFile, raw)
	}
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	// Events come in bursts during a swap; settle before reading.
	var settle <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-w.Events:
			if !ok {
				return nil
			}
			settle = time.After(50 * time.Millisecond)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			log.Warn("configuration watch error", "error", err.Error())
		case <-settle:
			settle = nil
			offer()
		case <-ticker.C:
			offer()
		}
	}
}
