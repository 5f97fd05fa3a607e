package examples

import (
	"time"

	"github.com/rivetgo/rivetgo/pkg/actor"
)

// ReminderState is the state of the reminder actor.
type ReminderState struct {
	Message string `cbor:"message"`
	// Sent counts the reminders sent.
	Sent int `cbor:"sent"`
}

// ReminderContext is the context type of the reminder actor.
type ReminderContext = actor.Context[ReminderState, struct{}]

// Reminder is the reference's schedule example: setReminder(message,
// delayMs) and setReminderAt(message, timestampMs) schedule sendReminder,
// which broadcasts the event "reminder" with {message}. The schedule is
// set in the action's commit: it exists if and only if the action
// succeeded, and it fires once, waking the actor if it sleeps.
var Reminder = actor.New("reminder", actor.Config[ReminderState, struct{}]{
	Options: actor.Options{DisplayName: "Reminder", Icon: "bell"},
}).
	Action("setReminder", func(c *ReminderContext, message string, delayMs int64) (string, error) {
		c.State().Message = message
		return c.Schedule().After(time.Duration(delayMs)*time.Millisecond, "sendReminder")
	}).
	Action("setReminderAt", func(c *ReminderContext, message string, timestampMs int64) (string, error) {
		c.State().Message = message
		return c.Schedule().At(time.UnixMilli(timestampMs), "sendReminder")
	}).
	Action("sendReminder", func(c *ReminderContext) error {
		c.State().Sent++
		return c.Broadcast("reminder", map[string]string{"message": c.State().Message})
	}).
	Action("getSent", func(c *ReminderContext) int { return c.State().Sent })

// AlarmState is the state of the alarm actor.
type AlarmState struct {
	// Rings counts ring runs per alarm id: a value above 1 would be a
	// schedule that ran twice.
	Rings map[string]int `cbor:"rings"`
	// LateMs is, per ring, how late it ran (ms after its due time).
	LateMs []int64 `cbor:"late"`
}

// AlarmContext is the context type of the alarm actor.
type AlarmContext = actor.Context[AlarmState, struct{}]

// AlarmSet is one alarm to set: its name and due time (Unix ms).
type AlarmSet struct {
	Name string `cbor:"name"`
	AtMs int64  `cbor:"atMs"`
}

// Alarm shows schedules with arguments, listing and cancelling: set(alarms)
// schedules ring(name, atMs) for each, ring records that it ran and how
// late, cancel(id) and list() manage what is pending, stats() reads the
// record, sleep() puts the actor to sleep (an alarm wakes it).
var Alarm = actor.New("alarm", actor.Config[AlarmState, struct{}]{
	Options: actor.Options{DisplayName: "Alarm", Icon: "clock"},
}).
	Action("set", func(c *AlarmContext, alarms []AlarmSet) ([]string, error) {
		ids := make([]string, 0, len(alarms))
		for _, a := range alarms {
			id, err := c.Schedule().At(time.UnixMilli(a.AtMs), "ring", a.Name, a.AtMs)
			if err != nil {
				return nil, err
			}
			ids = append(ids, id)
		}
		return ids, nil
	}).
	Action("ring", func(c *AlarmContext, name string, atMs int64) {
		s := c.State()
		if s.Rings == nil {
			s.Rings = map[string]int{}
		}
		s.Rings[name]++
		s.LateMs = append(s.LateMs, c.Now().UnixMilli()-atMs)
	}).
	Action("cancel", func(c *AlarmContext, id string) bool { return c.Schedule().Cancel(id) }).
	Action("list", func(c *AlarmContext) []map[string]any {
		out := []map[string]any{}
		for _, s := range c.Schedule().List() {
			out = append(out, map[string]any{"id": s.ID, "action": s.Action, "atMs": s.At.UnixMilli()})
		}
		return out
	}).
	Action("stats", func(c *AlarmContext) AlarmState { return *c.State() }).
	Action("sleep", func(c *AlarmContext) { c.Sleep() }).
	// fail sets an alarm and then fails: the alarm must never ring.
	Action("setThenFail", func(c *AlarmContext, name string, atMs int64) error {
		if _, err := c.Schedule().At(time.UnixMilli(atMs), "ring", name, atMs); err != nil {
			return err
		}
		return actor.NewUserError("failed_on_purpose", "the action failed after setting a schedule")
	})
