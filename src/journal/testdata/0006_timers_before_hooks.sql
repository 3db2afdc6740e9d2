-- 0006: time inside runs. `wait` steps record when they end (`steps.wake_at`, set
-- by `timer_set` events); inbox items may carry a decision deadline with what to do
-- when it passes (`deadline_set`), and count the reminders sent (`proposal_reminded`).

ALTER TABLE steps ADD COLUMN wake_at INTEGER;
ALTER TABLE proposals ADD COLUMN deadline INTEGER;
ALTER TABLE proposals ADD COLUMN on_timeout TEXT;
ALTER TABLE proposals ADD COLUMN reminders INTEGER NOT NULL DEFAULT 0;

CREATE INDEX steps_waking ON steps (wake_at) WHERE wake_at IS NOT NULL AND status = 'waiting';
CREATE INDEX proposals_deadline ON proposals (deadline) WHERE deadline IS NOT NULL AND status = 'pending';
