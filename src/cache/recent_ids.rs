//! [`RecentIds`]: the most recent ids in two generations of a hash set, for deduplicating
//! Telegram's redeliveries in process at a few bytes per id.
//!
//! New ids go into the current generation. When it holds half the capacity, or is older than
//! half the time to live, it becomes the previous generation and the one before is dropped. So
//! the last `capacity / 2` ids, and every id of the last `ttl / 2`, are always remembered, and
//! nothing is kept much longer than `ttl` or beyond `capacity` ids.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

/// Recently seen ids.
#[derive(Debug)]
pub struct RecentIds {
    current: HashSet<u32>,
    previous: HashSet<u32>,
    /// When `current` began.
    since: Instant,
    /// Ids per generation.
    generation_size: usize,
    /// Age of a generation.
    generation_age: Duration,
}

impl RecentIds {
    /// Remembers up to `capacity` ids, each for up to `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            current: HashSet::new(),
            previous: HashSet::new(),
            since: Instant::now(),
            generation_size: (capacity / 2).max(1),
            generation_age: ttl / 2,
        }
    }

    /// `true` the first time `id` is offered (within the memory described above).
    pub fn first_time(&mut self, id: u32) -> bool {
        if self.current.len() >= self.generation_size || self.since.elapsed() >= self.generation_age
        {
            self.previous = std::mem::take(&mut self.current);
            self.since = Instant::now();
        }
        !self.previous.contains(&id) && self.current.insert(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_new_once() {
        let mut ids = RecentIds::new(10, Duration::from_secs(60));
        assert!(ids.first_time(7));
        assert!(!ids.first_time(7));
        assert!(ids.first_time(8));
    }

    #[test]
    fn the_most_recent_half_of_the_capacity_is_always_remembered() {
        let mut ids = RecentIds::new(200_000, Duration::from_secs(3600));
        for id in 0..300_000 {
            assert!(ids.first_time(id));
        }
        assert!((200_000..300_000).all(|id| !ids.first_time(id)));
        // Older ids are eventually forgotten: memory stays bounded.
        assert!(ids.first_time(0));
        assert!(ids.current.len() + ids.previous.len() <= 200_000);
    }

    #[test]
    fn old_generations_expire() {
        let mut ids = RecentIds::new(100, Duration::ZERO);
        assert!(ids.first_time(1));
        // Each offer starts a new generation; the previous one still holds 1.
        assert!(!ids.first_time(1));
        assert!(ids.first_time(2));
        assert!(ids.first_time(3));
        assert!(ids.first_time(1), "1 expired two generations ago");
    }
}
