package acme

import (
	"context"
	"time"
)

// SetSleep replaces m's waits, so tests see how long Run would wait
// without waiting. f returns false to stop Run as a cancelled ctx would.
func SetSleep(m *Manager, f func(ctx context.Context, d time.Duration) bool) { m.sleep = f }
