package config

import (
	"fmt"
	"time"
)

// driftInterval reads drift.interval: a duration, where 0 turns the
// scheduled drift check off.
func (d *decoder) driftInterval(s *section) time.Duration {
	e, ok := s.get("interval")
	if !ok {
		return DefaultDriftInterval
	}
	text, ok := d.stringValue(e.path, e.val)
	if !ok {
		return DefaultDriftInterval
	}
	v, err := ParseDuration(text)
	if err == nil && v < 0 {
		err = fmt.Errorf("duration must not be negative (0 turns the scheduled check off)")
	}
	if err != nil {
		d.errorf(e.val.Line, e.path, "%v", err)
		return DefaultDriftInterval
	}
	return v
}
