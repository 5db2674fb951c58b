//! The buffer of live updates between flushes.
//!
//! Telegram sends an `edited_message` every few seconds per walker; the actor does not touch
//! a session for each. Updates wait here, one slot per user (a newer fix replaces an older
//! one, by Telegram's date), and a flush applies them all in one pass.

use std::collections::HashMap;

use crate::tour::PositionFix;

/// One user's newest buffered update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BufferedUpdate {
    /// The chat it came from (a tour only takes updates from its own chat).
    pub chat_id: i64,
    /// The position.
    pub fix: PositionFix,
}

/// Live updates waiting for the next flush, coalesced per user.
#[derive(Debug, Default)]
pub struct UpdateBuffer {
    latest: HashMap<u64, BufferedUpdate>,
    /// Updates received since the last flush (before coalescing): the flush trigger.
    received: usize,
}

impl UpdateBuffer {
    /// Buffers `update`, keeping only the newest per user; returns the updates received since
    /// the last flush.
    pub fn push(&mut self, user_id: u64, update: BufferedUpdate) -> usize {
        self.received += 1;
        let slot = self.latest.entry(user_id).or_insert(update);
        if update.fix.date >= slot.fix.date {
            *slot = update;
        }
        self.received
    }

    /// Everything buffered, emptying the buffer.
    pub fn take_all(&mut self) -> HashMap<u64, BufferedUpdate> {
        self.received = 0;
        std::mem::take(&mut self.latest)
    }

    /// One user's buffered update, if any.
    pub fn take(&mut self, user_id: u64) -> Option<BufferedUpdate> {
        self.latest.remove(&user_id)
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::geo::Coordinates;

    fn update(lat: f64, date: i64) -> BufferedUpdate {
        BufferedUpdate {
            chat_id: 1,
            fix: PositionFix {
                position: Coordinates::new(lat, 0.0).unwrap(),
                heading: None,
                date,
            },
        }
    }

    #[test]
    fn many_edits_from_one_user_coalesce_to_the_newest() {
        let mut buffer = UpdateBuffer::default();
        buffer.push(7, update(1.0, 10));
        buffer.push(7, update(3.0, 30));
        assert_eq!(buffer.push(7, update(2.0, 20)), 3);
        let all = buffer.take_all();
        assert_eq!(all.len(), 1);
        assert_eq!(all[&7].fix.date, 30);
        assert!(buffer.is_empty());
        assert_eq!(buffer.push(7, update(1.0, 40)), 1);
    }
}
