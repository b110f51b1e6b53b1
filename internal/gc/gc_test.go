package gc

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// Every job runs; one that fails is logged and does not stop the others.
func TestRunOnce(t *testing.T) {
	var log bytes.Buffer
	ran := map[string]int{}
	job := func(name string, n int, err error) Job {
		return Job{Name: name, Run: func(context.Context) (int, error) { ran[name]++; return n, err }}
	}
	s := New(slog.New(slog.NewTextHandler(&log, nil)), job("a", 0, errors.New("boom")), job("b", 3, nil))
	if err := s.RunOnce(context.Background()); err == nil {
		t.Fatal("a failed job was not reported")
	}
	if ran["a"] != 1 || ran["b"] != 1 {
		t.Fatalf("ran %v", ran)
	}
	if !strings.Contains(log.String(), "job=a") || !strings.Contains(log.String(), "removed=3") {
		t.Fatalf("log %s", log.String())
	}
}
