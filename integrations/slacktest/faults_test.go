package slacktest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

func TestDelayHoldsTheAnswer(t *testing.T) {
	s := newTestServer(t, Options{})
	const delay = 300 * time.Millisecond
	s.Delay("chat.postMessage", delay)

	// A caller that gives up first gets its own deadline error and nothing is posted.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, _, err := s.Client().PostMessageContext(ctx, testChannel, slack.MsgOptionText("x", false))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("impatient caller: error %v, want context.DeadlineExceeded", err)
	}
	if _, err := s.WaitForCalls(t.Context(), "chat.postMessage", 1); err != nil {
		t.Fatal(err)
	}
	if len(s.Messages(testChannel)) != 0 {
		t.Error("a call abandoned during its delay was still applied")
	}

	// A patient caller waits at least the delay (a lower bound: not flaky when slow).
	start := time.Now()
	if _, _, err := s.Client().PostMessageContext(t.Context(), testChannel, slack.MsgOptionText("x", false)); err != nil {
		t.Fatalf("patient caller: %v", err)
	}
	if waited := time.Since(start); waited < delay {
		t.Errorf("answered after %v, want at least %v", waited, delay)
	}

	// Other methods are not delayed, and Delay(method, 0) removes it.
	s.Delay("chat.postMessage", 0)
	ctx2, cancel2 := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel2()
	if _, _, err := s.Client().PostMessageContext(ctx2, testChannel, slack.MsgOptionText("x", false)); err != nil {
		t.Errorf("after removing the delay: %v", err)
	}
}

func TestFailNext(t *testing.T) {
	tests := []struct {
		name     string
		slackErr string
		times    int
	}{
		{"once", "internal_error", 1},
		{"three times", "fatal_error", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, Options{})
			s.FailNext("chat.update", "message_not_found", 0) // zero times: no effect
			s.FailNext("chat.postMessage", tt.slackErr, tt.times)
			for i := range tt.times {
				_, _, err := s.Client().PostMessageContext(t.Context(), testChannel, slack.MsgOptionText("x", false))
				if got := slackError(err); got != tt.slackErr {
					t.Errorf("call %d: error %q, want %q", i+1, got, tt.slackErr)
				}
			}
			if _, _, err := s.Client().PostMessageContext(t.Context(), testChannel, slack.MsgOptionText("x", false)); err != nil {
				t.Errorf("call after the failures: %v", err)
			}
			if n := len(s.Messages(testChannel)); n != 1 {
				t.Errorf("%d messages, want only the one after the failures", n)
			}
			calls := s.CallsTo("chat.postMessage")
			if len(calls) != tt.times+1 || calls[0].OK() || !calls[tt.times].OK() {
				t.Errorf("recorded %+v, want %d failed calls then one ok", calls, tt.times)
			}
		})
	}
}

func TestRateLimitNext(t *testing.T) {
	s := newTestServer(t, Options{})
	s.RateLimitNext("chat.postMessage", 1500*time.Millisecond)

	_, _, err := s.Client().PostMessageContext(t.Context(), testChannel, slack.MsgOptionText("x", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) {
		t.Fatalf("error = %v, want *slack.RateLimitedError", err)
	}
	if rl.RetryAfter != 2*time.Second {
		t.Errorf("RetryAfter = %v, want 2s (1.5s rounded up to whole seconds)", rl.RetryAfter)
	}
	if calls := s.CallsTo("chat.postMessage"); len(calls) != 1 || calls[0].Status != 429 || calls[0].Error != "ratelimited" {
		t.Errorf("recorded %+v, want one 429", calls)
	}
	if _, _, err := s.Client().PostMessageContext(t.Context(), testChannel, slack.MsgOptionText("x", false)); err != nil {
		t.Errorf("next call: %v, want it to succeed", err)
	}
}

func TestWaitForCallsGivesUpWithContext(t *testing.T) {
	s := newTestServer(t, Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := s.WaitForCalls(ctx, "chat.update", 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want context.DeadlineExceeded", err)
	}
}
