//! The write-behind buffer: users coalesced to their latest sighting, deliveries in order,
//! bounded so a long outage cannot exhaust memory.

use std::collections::{HashMap, VecDeque};

use crate::db::queries::{Delivery, UserSeen};

/// Rows taken out for one write.
#[derive(Debug, Default)]
pub struct Batch {
    /// Latest sighting per user.
    pub users: HashMap<i64, UserSeen>,
    /// Deliveries, oldest first.
    pub deliveries: Vec<Delivery>,
}

impl Batch {
    /// Rows in the batch.
    pub fn len(&self) -> usize {
        self.users.len() + self.deliveries.len()
    }
}

/// Rows waiting to be written.
pub struct WriteBuffer {
    users: HashMap<i64, UserSeen>,
    deliveries: VecDeque<Delivery>,
    max_rows: usize,
}

impl WriteBuffer {
    /// An empty buffer holding at most `max_rows` rows.
    pub fn new(max_rows: usize) -> Self {
        Self {
            users: HashMap::new(),
            deliveries: VecDeque::new(),
            max_rows,
        }
    }

    /// Rows waiting.
    pub fn len(&self) -> usize {
        self.users.len() + self.deliveries.len()
    }

    /// Nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records a sighting; a later one of the same user replaces an earlier one.
    pub fn push_user(&mut self, user: UserSeen) {
        self.users.insert(user.id, user);
    }

    /// Records a delivery; `true` when the buffer was full and the oldest row was dropped.
    pub fn push_delivery(&mut self, row: Delivery) -> bool {
        self.deliveries.push_back(row);
        self.trim() > 0
    }

    /// Takes everything for one write.
    pub fn take(&mut self) -> Batch {
        Batch {
            users: std::mem::take(&mut self.users),
            deliveries: self.deliveries.drain(..).collect(),
        }
    }

    /// Returns rows whose write failed, ahead of newer ones; returns how many were dropped.
    pub fn put_back(&mut self, batch: Batch) -> usize {
        for (id, user) in batch.users {
            // A newer sighting that arrived meanwhile wins.
            self.users.entry(id).or_insert(user);
        }
        for row in batch.deliveries.into_iter().rev() {
            self.deliveries.push_front(row);
        }
        self.trim()
    }

    /// Place ids delivered to `user_id` that are not written yet.
    pub fn told_places(&self, user_id: i64) -> Vec<String> {
        self.deliveries
            .iter()
            .filter(|row| row.user_id == user_id)
            .map(|row| row.place_id.clone())
            .collect()
    }

    /// Drops a user's buffered deliveries (they asked to be forgotten).
    pub fn forget_deliveries_of(&mut self, user_id: i64) {
        self.deliveries.retain(|row| row.user_id != user_id);
    }

    fn trim(&mut self) -> usize {
        let mut dropped = 0;
        while self.len() > self.max_rows && self.deliveries.pop_front().is_some() {
            dropped += 1;
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(user_id: i64, place: &str) -> Delivery {
        Delivery {
            user_id,
            place_id: place.into(),
            place_title: place.into(),
            lat: 0.0,
            lon: 0.0,
            source: "llm",
            latency_ms: 1,
            at: 1,
        }
    }

    fn seen(id: i64, at: i64) -> UserSeen {
        UserSeen {
            id,
            first_name: "A".into(),
            last_name: None,
            username: None,
            language_code: None,
            at,
        }
    }

    #[test]
    fn sightings_coalesce_and_failed_rows_go_back_in_order() {
        let mut buffer = WriteBuffer::new(10);
        buffer.push_user(seen(1, 1));
        buffer.push_user(seen(1, 2));
        buffer.push_delivery(delivery(1, "a"));
        let batch = buffer.take();
        assert_eq!(batch.len(), 2);
        buffer.push_user(seen(1, 3));
        buffer.push_delivery(delivery(1, "b"));
        buffer.put_back(batch);
        let again = buffer.take();
        assert_eq!(again.users[&1].at, 3);
        let order: Vec<_> = again
            .deliveries
            .iter()
            .map(|d| d.place_id.as_str())
            .collect();
        assert_eq!(order, ["a", "b"]);
    }

    #[test]
    fn a_full_buffer_drops_the_oldest_delivery_and_says_so() {
        let mut buffer = WriteBuffer::new(2);
        assert!(!buffer.push_delivery(delivery(1, "a")));
        assert!(!buffer.push_delivery(delivery(1, "b")));
        assert!(buffer.push_delivery(delivery(1, "c")));
        assert_eq!(buffer.told_places(1), ["b", "c"]);
    }
}
