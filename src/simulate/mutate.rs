//! Mutations of real updates, for hostile bodies: bytes flipped at random places (mostly
//! unreadable JSON), and changes to the JSON tree that keep it readable and so reach the
//! parser's deeper code and the handlers: a field removed or set to `null`, a value swapped
//! for one of another type or an extreme one (huge, negative, NaN-like, 4096 characters,
//! right-to-left and zero-width marks), a key renamed to another kind's, an array repeated.
//! Deterministic for a seed, so a failure can be replayed.

use serde_json::{Map, Value, json};

/// Keys a renamed key becomes: update kinds and the fields their parsers look at.
const KEYS: &[&str] = &[
    "message",
    "edited_message",
    "callback_query",
    "message_reaction",
    "pre_checkout_query",
    "my_chat_member",
    "user",
    "actor_chat",
    "from",
    "chat",
    "location",
    "live_period",
    "venue",
    "data",
    "text",
    "entities",
    "update_id",
    "successful_payment",
];

/// A xorshift generator and the mutations it picks.
pub struct Mutator {
    state: u64,
}

impl Mutator {
    /// A mutator whose choices follow from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed | 1, // xorshift never leaves 0
        }
    }

    fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    /// A number below `bound` (which must not be 0).
    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    /// `body` with `flips` bytes set to random values.
    pub fn flip_bytes(&mut self, mut body: Vec<u8>, flips: usize) -> Vec<u8> {
        if body.is_empty() {
            return body;
        }
        for _ in 0..flips {
            let at = self.below(body.len());
            body[at] = self.next() as u8;
        }
        body
    }

    /// A mutant of `update` as a body: one tree change (two, one time in four), then, one
    /// time in eight, a few bytes flipped too.
    pub fn mutant(&mut self, update: &Value) -> Vec<u8> {
        let mut tree = update.clone();
        let changes = if self.below(4) == 0 { 2 } else { 1 };
        for _ in 0..changes {
            self.change_somewhere(&mut tree);
        }
        let body = tree.to_string().into_bytes();
        match self.below(8) {
            0 => {
                let flips = 1 + self.below(3);
                self.flip_bytes(body, flips)
            }
            _ => body,
        }
    }

    /// Walks down from `tree` to a random node below it and changes it.
    fn change_somewhere(&mut self, tree: &mut Value) {
        let mut node = tree;
        let mut depth = 0;
        loop {
            let children = match &node {
                Value::Object(map) => map.len(),
                Value::Array(items) => items.len(),
                _ => 0,
            };
            // Stop at a leaf, else one time in four below the top (where any change leaves
            // no update at all).
            if children == 0 || (depth > 0 && self.below(4) == 0) {
                break;
            }
            depth += 1;
            let pick = self.below(children);
            node = match node {
                Value::Object(map) => match map.values_mut().nth(pick) {
                    Some(child) => child,
                    None => return,
                },
                Value::Array(items) => &mut items[pick],
                _ => return,
            };
        }
        self.change(node);
    }

    /// Changes one node: its children (remove, rename, repeat) or its value.
    fn change(&mut self, node: &mut Value) {
        match node {
            Value::Object(map) if !map.is_empty() && self.below(2) == 0 => self.change_keys(map),
            Value::Array(items) if !items.is_empty() && self.below(2) == 0 => {
                let copies = 1 + self.below(64);
                let first = items[0].clone();
                items.extend(std::iter::repeat_n(first, copies));
            }
            _ => *node = self.odd_value(),
        }
    }

    fn change_keys(&mut self, map: &mut Map<String, Value>) {
        let Some(key) = map.keys().nth(self.below(map.len())).cloned() else {
            return;
        };
        let Some(value) = map.remove(&key) else {
            return;
        };
        match self.below(3) {
            0 => {} // removed
            1 => {
                map.insert(key, Value::Null);
            }
            _ => {
                map.insert(KEYS[self.below(KEYS.len())].to_owned(), value);
            }
        }
    }

    /// A value of any type, often an extreme one.
    fn odd_value(&mut self) -> Value {
        match self.below(16) {
            0 => Value::Null,
            1 => json!(true),
            2 => json!(0),
            3 => json!(-1),
            4 => json!(u64::MAX),
            5 => json!(i64::MIN),
            6 => json!(1e308),
            7 => json!(-0.0),
            8 => json!(91.5),
            9 => json!(""),
            10 => json!("x".repeat(4096)),
            11 => json!("\u{202e}evil\u{200b}\u{200d}\u{2066}name\u{feff}"),
            12 => json!([]),
            13 => json!({}),
            14 => json!("/start@excursobot_test_bot x"),
            _ => json!(self.next()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_mutants_and_most_stay_json() {
        let update = json!({ "update_id": 1, "message": { "text": "hi", "chat": { "id": 5 } } });
        let (mut one, mut other) = (Mutator::new(7), Mutator::new(7));

        let mutants: Vec<_> = (0..200).map(|_| one.mutant(&update)).collect();
        let again: Vec<_> = (0..200).map(|_| other.mutant(&update)).collect();

        assert_eq!(mutants, again);
        let readable = mutants
            .iter()
            .filter(|body| serde_json::from_slice::<Value>(body).is_ok())
            .count();
        assert!(readable > 100, "{readable} of 200 still JSON");
        assert!(
            mutants
                .iter()
                .any(|body| body != &update.to_string().into_bytes())
        );
    }
}
